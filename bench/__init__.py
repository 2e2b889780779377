"""`make bench`: micd ingest throughput, latency and memory beside a real Alertmanager (see bench/README.md)."""
