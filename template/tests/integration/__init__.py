"""Integration tests: the command line, monitoring and the HTTP server end to end."""
