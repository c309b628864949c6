from tests.integration.conftest import local_mode, local_mode_factory, stack  # noqa: F401  (re-exported fixtures)
