"""Benchmark harness (`make bench`): civgrid side by side with reference tools."""
