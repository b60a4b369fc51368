"""The embedded local backend: SQLite, behaving like the durable execution service."""
