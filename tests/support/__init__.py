"""Shared test fixtures: free ports, real processes, payload builders."""
