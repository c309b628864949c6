"""Property-based tests: the integration stack plus hypothesis profiles.

The `ci` profile, loaded unless HYPOTHESIS_PROFILE names another, is derandomized (a fixed seed
per test) so a run is reproducible, as the rest of the suite is; `HYPOTHESIS_PROFILE=explore`
draws fresh examples (2,000 per test) for hunting bugs locally."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from tests.integration.conftest import app_stack, stack  # noqa: F401  (re-exported fixtures)

# The stack (moto, the Langfuse-compatible server, the Slack server) is built once per test and
# shared by its examples: the webhook keeps no state between calls (it only sends to SQS), so a
# function-scoped fixture is what we mean here, not an accident the health check should catch.
SHARED_STACK = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("explore", max_examples=2000, deadline=None)
settings.load_profile(PROFILE)


def bounded(max_examples: int, *, shared_stack: bool = True) -> settings:
    """A test's settings: `max_examples` in the ci profile, the explore profile's count there."""
    suppress = SHARED_STACK if shared_stack else []
    if PROFILE == "explore":
        return settings(suppress_health_check=suppress)
    return settings(max_examples=max_examples, suppress_health_check=suppress)
