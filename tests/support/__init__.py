"""Helpers shared by test areas (kept out of conftest.py so that stays small)."""
