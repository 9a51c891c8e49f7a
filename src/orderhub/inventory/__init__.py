"""Inventory: nodes (DCs, stores, …), the item master, stock positions, reservations, ATP."""
