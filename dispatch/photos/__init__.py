"""Event photos: upload (sniffed, verified, content-addressed), list, serve."""
