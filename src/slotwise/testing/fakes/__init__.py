"""Fakes of outside services for tests: real local HTTP servers shaped like the real APIs."""
