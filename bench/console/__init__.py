"""The console's benchmark: ``python -m bench.console`` (see __main__)."""
