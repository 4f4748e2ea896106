"""Unit tests: no I/O at all (no database, Redis, files or network); pure domain and pure
helpers."""
