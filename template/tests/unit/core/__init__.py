"""Unit tests of `core`, one test module per source module."""
