"""The shell loops: event processing, decision polling, the command phase and its cadence ticker."""
