"""Outbound webhooks: signed event notifications to subscribers' endpoints, with retries."""
