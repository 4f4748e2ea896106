"""Evaluation statistics (feature): resolution times, the DESIGN §7 indicators with drill-downs,
the scorecard, CSV/XLSX exports, and the sealed fast path that keeps them quick
(docs/decisions/0004-stats-histograms.md)."""
