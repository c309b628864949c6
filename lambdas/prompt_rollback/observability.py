"""Powertools logger and metrics, named here so every function emits the same service and
namespace wherever it runs (Lambda, local mode, tests); the stack sets the same values."""

from aws_lambda_powertools import Logger, Metrics

# No Powertools Tracer: every `Tracer()` imports the AWS X-Ray SDK (maintenance mode since
# 2026-02-25, end of support 2027-02-25), which cost about 100 ms of each cold start. Lambda
# active tracing (infra/functions.py) records each invocation's segment without an SDK.
SERVICE_NAME = "prompt-rollback"
METRICS_NAMESPACE = "PromptRollback"

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
