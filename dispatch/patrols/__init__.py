"""Patrols (巡查): start, GPS point batches, stop, per-grid daily coverage."""
