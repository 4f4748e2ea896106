"""Tools for operators and benchmarks, not the running service: the simulator and the synthetic
grid-map generator."""
