"""Orders: capture from every channel, the lifecycle, editing, the order event log."""
