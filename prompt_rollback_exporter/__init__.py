"""`prompt-rollback-exporter`: Langfuse's per-prompt-version measurements as Prometheus metrics.
settings.py (environment, checked at start), refresher.py (background refresh), collector.py
(what /metrics shows), __main__.py (HTTP server, refresh thread, signals)."""
