"""Unit tests of `monitoring`, one test module per source module."""
