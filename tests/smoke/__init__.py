"""Smoke tests of the README commands (run as scripts, not collected by pytest)."""
