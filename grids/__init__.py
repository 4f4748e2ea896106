"""The grid map (feature): loading a surveyed or synthetic map, the point lookup (in memory,
PostGIS for snapping), GeoJSON reads, coverage and staffing."""
