"""Impact rules: declarative conditions over an outage's facts, and their pure evaluation."""
