"""The pure incremental correlator: alert events in, outage changes out."""
