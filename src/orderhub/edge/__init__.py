"""Edge: store gateways that sell offline and sync with the hub (docs/edge.md)."""
