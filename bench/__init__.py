"""Benchmarks of the scanner (issue #2): run ``make bench``; results are in docs/PERFORMANCE.md."""
