"""Durable state behind small repository interfaces. SQLite is the embedded default."""
