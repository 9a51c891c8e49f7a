"""Settings, database, auth, problem details: what every context uses; imports no context."""
