"""The event lifecycle after registration: loading an event for the dispatch core, choosing
handlers, people's actions (dispatch, acknowledge, resolve, review, escalate, suspend/resume,
void), the system's writers (automatic dispatch, the SLA timers) and what the sweep reconciles."""
