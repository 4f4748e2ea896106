"""Unit tests of the statistics' pure definitions."""
