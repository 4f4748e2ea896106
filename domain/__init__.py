"""The pure domain core: the rules of Wangge in plain Python, standard library only (no database,
web, Redis or RQ): roles and levels, jurisdiction, coordinates, the event lifecycle, the
evaluation's formulas."""
