"""Integration tests: the real PostgreSQL, Redis and worker, calling services, the store, jobs
and the engine directly. No HTTP: no ``client``/``app``/``token_for``, no API server."""
