"""Helpers shared by the test folders, one module a subject: ``events`` (points, report bodies,
events registered without HTTP), ``dispatch`` (people, seconds-long categories, reports through
the report service, the worker's jobs in-process), ``data`` (the seeded categories and the grid
map as shapes), ``routes`` (the app's route table), ``servers`` (real server processes),
``faults`` (the fault tests' Redis, session and counts). Fixtures the folders share are in
tests/conftest.py."""
