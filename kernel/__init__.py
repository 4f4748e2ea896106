"""The shared kernel: configuration, database and unit of work, Redis, the clock, errors without
HTTP, logging, reference caches, paging. Imports nothing of ours."""
