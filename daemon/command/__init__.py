"""Command phase, pure: lifecycle gates, lanes, decision log, cadence, mitigation queue, closure and review."""
