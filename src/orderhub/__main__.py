from orderhub.cli import main

raise SystemExit(main())
