"""The pure kernel: requests, policy, the audit chain, intake and the alert models.
Nothing here talks to AWS or HTTP, so it is tested without mocks."""
