"""Entry points: the HTTP API (``service.api``), the operators' CLI and the worker. Nothing
imports them."""
