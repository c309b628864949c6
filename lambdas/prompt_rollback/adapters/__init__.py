"""Adapters to the outside world, one file per system, each behind a small Protocol."""
