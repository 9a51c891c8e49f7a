"""Carrier adapters: what EasyPost, AfterShip and DHL send, read into the tracking model's
``Feed`` and ``Update`` (``orderhub.tracking.model``). Pure: standard library, ``orderhub.core``
and the tracking model only; no HTTP, no database. Each module offers ``parse`` and, where the
sender signs, ``verify``; ``samples`` builds realistic signed webhooks for the demo simulator.
Formats, mapping tables and the traps handled: docs/tracking-carriers.md.
"""
