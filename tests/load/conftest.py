from tests.integration.conftest import stack  # noqa: F401  (re-exported fixture)
