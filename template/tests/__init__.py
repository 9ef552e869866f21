"""Tests of the project: unit tests per module, integration tests end to end."""
