"""Rollout KPIs from stored facts: values per tenant, weekly series, baseline comparison, Markdown and HTML reports."""
