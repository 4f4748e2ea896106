"""Integration tests: the real PostgreSQL, Redis and worker (jobs in-process, or ``wangge worker``
as a process), calling services, the store, jobs and the engine directly. No HTTP: no
``client``/``app``/``token_for``, no API server."""
