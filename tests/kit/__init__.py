"""Helpers shared by the test folders, one module a subject: ``events`` (points, report bodies,
events registered without HTTP), ``dispatch`` (people, seconds-long categories, reports through
the report service), ``routes`` (the app's route table), ``servers`` (real server processes).
Fixtures the folders share are in tests/conftest.py."""
