"""The tests, in folders by what they touch: ``unit`` (no I/O), ``integration`` (the real
servers, no HTTP), ``e2e`` (through HTTP); shared helpers in ``kit``. See tests/README.md."""
