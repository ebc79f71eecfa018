"""Alerts per crossing point: issue, update, cancel, acknowledge, escalate, CAP 1.2."""
