"""Development tools kept in the repository: emulators for tests and demos. Not shipped with the daemon."""
