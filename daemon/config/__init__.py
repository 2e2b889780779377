"""Settings: YAML file plus MICD_* environment variables; one section per concern."""
