"""A ServiceNow instance for tests and demos: Table and Batch APIs, Major Incident states, faults, over HTTPS."""
