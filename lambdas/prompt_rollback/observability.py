"""Powertools logger and metrics, named once for both functions.

The names are fixed here rather than only in the environment so the handlers emit the same
service and namespace wherever they run (Lambda, local mode, tests); the CDK stack sets the
same values in POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE.

No Powertools Tracer: every `Tracer()` imports the AWS X-Ray SDK (maintenance mode since
2026-02-25, end of support 2027-02-25), which cost about 100 ms of each cold start, and Powertools
has no provider without it. The functions keep Lambda active tracing (infra/functions.py): the
Lambda service records each invocation's segment without any SDK in the function.
"""

from aws_lambda_powertools import Logger, Metrics

SERVICE_NAME = "prompt-rollback"
METRICS_NAMESPACE = "PromptRollback"

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
