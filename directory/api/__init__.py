"""The JSON API under /api/v1: the same operations and permissions as the web pages."""
