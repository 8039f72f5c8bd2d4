"""Alembic migrations for the store, run at start-up for SQLite and PostgreSQL alike."""
