"""The event bus: a transactional outbox now; relay and backends (embedded, NATS) build on it."""
