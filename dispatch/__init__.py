"""Events from report to closure (feature): categories, the report, people's actions, the
dispatch engine (assignment, SLA timers, outbox relay, sweep), photos, the command centre's
board and change stream. ``store`` is the one writer of events and their audit and outbox rows."""
