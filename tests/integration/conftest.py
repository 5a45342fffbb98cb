"""Integration fixtures live in tests/conftest.py (`cli`, `workdir`, the tiny tables)."""
