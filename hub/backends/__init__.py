"""Database backends of the hub (Django's, with what the hub changes about them)."""
