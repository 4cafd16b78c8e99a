"""Persistence of the radio (SQLAlchemy models and repositories)."""
