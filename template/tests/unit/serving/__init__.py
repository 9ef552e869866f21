"""Unit tests of `serving`, one test module per source module."""
