"""The simulator: a realistic, seeded history of events and patrols for the loaded map.

``world`` loads the map, roster and categories; ``plans`` draws what happens (arrivals and the
handlers' intentions); ``play`` acts a plan out on the dispatch core, firing timers when due.
Small runs (``small``) write each event through ``dispatch.store``; ``--bulk`` (``bulk``) writes
millions with COPY from path templates derived from the core (``templates``), finding each
event's path with a memo of the core's answers (``paths``). ``patrols`` walks the grids.
"""
