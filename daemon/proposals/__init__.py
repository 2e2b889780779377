"""Major-incident proposals: when an outage warrants one, and what the commander decided."""
