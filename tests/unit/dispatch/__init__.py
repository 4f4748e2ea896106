"""Unit tests of the dispatch core: the lifecycle, assignment and SLA rules, pure."""
