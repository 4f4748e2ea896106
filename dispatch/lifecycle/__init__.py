"""The event lifecycle after registration: dispatch, acknowledge, resolve, review, escalate,
suspend/resume, void, and the SLA timers' warnings and breaches."""
