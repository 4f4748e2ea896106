"""Evaluation statistics: resolution times, the DESIGN §7 indicators, the scorecard, exports.

``domain`` holds the pure parts (percentiles from histograms, indicator formulas as data,
scorecard weighting and grading, dyadic day blocks); ``histogram`` merges packed histograms with
NumPy; ``service`` owns the SQL; ``views`` the routes; ``exports`` CSV/XLSX.
"""
