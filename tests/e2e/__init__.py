"""End-to-end tests: through HTTP, with FastAPI's TestClient on the test's transaction
(``client``, ``app``, ``token_for``), real API/worker processes (``tests.kit.servers``) or
schemathesis."""
