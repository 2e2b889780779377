"""Kafka ingestion: a consumer group feeding IngestService, at least once, with dead letters and back-pressure."""
