"""Unit tests: no I/O (no database, Redis, processes or network); pure domain and pure
helpers."""
