"""Plain-Python core: Alertmanager payloads, rollback requests and the rollback policy.

Nothing in this package talks to AWS or HTTP, so it is tested without mocks.
"""
