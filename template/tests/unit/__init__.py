"""Unit tests: one test module per source module."""
