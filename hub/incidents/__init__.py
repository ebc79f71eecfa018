"""Incidents: what happened at a crossing point, who leads, and the discussion."""
