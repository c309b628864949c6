"""`prompt-rollback-exporter`: Langfuse's per-prompt-version measurements as Prometheus metrics.

settings.py   the settings, read from the environment and validated at start
refresher.py  the background refresh: failures, Retry-After, dropping stale values
collector.py  what /metrics shows, built from the last good refresh
__main__.py   the process: the HTTP server, the refresh thread, signals
"""
