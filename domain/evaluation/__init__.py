"""The pure rules of the evaluation statistics (DESIGN §7; docs/decisions/0004).

- ``days``: calendar days of the report (in the service's time zone), numbered from
  1970-01-01; aligned blocks of 2^k days that the sealed statistics cover; time groupings.
- ``resolution``: whole minutes from report to close; nearest-rank percentiles
  (= PostgreSQL ``percentile_disc``), exact to the minute.
- ``counters``: what one event contributes to the counters (the SQL definitions are tested
  against these).
- ``indicators``: formulas as data, each a ratio of linear combinations of named counters.
- ``scorecard``: weights and scoring bands as data (``data/scorecard.json``); 优 良 中 差.
"""
