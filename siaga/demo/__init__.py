"""Kota Probolinggo demo data (public figures; coordinates approximate)."""
