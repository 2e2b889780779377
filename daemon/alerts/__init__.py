"""The alert as micd understands it, whatever its source, and how a new sighting changes it."""
