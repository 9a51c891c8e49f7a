"""OrderHub: the order management hub every sales channel hands its orders to."""

__version__ = "0.1.0"
