"""Notifier adapters (generic webhook, Slack, Teams, e-mail) and the outbox worker that drives them."""
