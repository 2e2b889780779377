"""ServiceNow: the only pysnc importer. Incident desk adapter, outbox delivery worker, decision poller."""
