"""The routes, one module per feature: parse the request, call the feature, shape the answer."""
