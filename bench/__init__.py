"""`make bench`: what a transaction costs, how fast it flows, and how that grows.

Run as ``python -m bench [--quick]``; see docs/benchmarks.md.
"""
