"""Demo data for a new user: ``manage.py seed_demo`` (refuses HUB_ENV=production)."""
