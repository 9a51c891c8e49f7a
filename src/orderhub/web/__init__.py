"""The console's shell: layout, navigation, static assets, login, dashboard, shared helpers."""
