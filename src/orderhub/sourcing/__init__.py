"""Sourcing: which nodes fulfil which lines, by cost, speed and carbon, with an explanation."""
