"""End-to-end tests: through HTTP, with FastAPI's TestClient on the test's transaction
(``client``, ``app``, ``token_for``), the API under uvicorn (``tests.kit.servers``) or
schemathesis."""
