"""Helpers shared by the test layers (fixtures stay in the conftest files)."""
