"""Things every layer may import: clock, errors, pages. Imports nothing else from daemon."""
