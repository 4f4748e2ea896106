-- audit_replay v1 (migration 0011): an aggregate folding an event's audit deltas (``data``, the
-- fields each transition changed; the first row holds them all) in the order given, later
-- values winning: the state the log says the event is in ('wangge audit verify' compares it
-- with the event row; domain.lifecycle.audit.replay is the same fold in Python).
CREATE OR REPLACE AGGREGATE audit_replay(jsonb) (SFUNC = jsonb_concat, STYPE = jsonb, INITCOND = '{}');
