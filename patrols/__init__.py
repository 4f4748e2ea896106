"""巡查 (feature): grid staff's walks as GPS tracks, and patrol coverage per grid and day."""
