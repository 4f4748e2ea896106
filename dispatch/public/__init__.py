"""The public's door: reports from residents and the 12345 hotline (Open311 GeoReport v2),
their on-site verification, duplicate candidates, and the API clients that may post."""
