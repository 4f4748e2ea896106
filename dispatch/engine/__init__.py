"""The dispatch engine's background work: RQ jobs (automatic dispatch, SLA timers,
notifications), the outbox relay, the timer promoter and the reconciliation sweep
(docs/decisions/0003-outbox-relay-sweep.md)."""
