"""Benchmarks: ``python -m bench.<name>``; see bench/harness.py."""
