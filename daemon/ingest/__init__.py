"""Turning what senders post (Alertmanager webhooks, Kafka records) into stored alerts."""
