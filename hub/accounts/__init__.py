"""Accounts: the hub's user model and API tokens."""
