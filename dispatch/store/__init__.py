"""Persistence of dispatch (SQLAlchemy models and repositories)."""
