"""The HTTP surface: one module of routes per domain, plumbing in routing/auth/errors."""
