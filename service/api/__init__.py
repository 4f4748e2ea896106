"""The HTTP API: the FastAPI app, its dependencies, the one error table, middleware and the
routes."""
