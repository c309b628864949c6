"""Powertools logger, tracer and metrics, named once for both functions.

The names are fixed here rather than only in the environment so the handlers emit the same
service and namespace wherever they run (Lambda, local mode, tests); the CDK stack sets the
same values in POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE_NAME = "prompt-rollback"
METRICS_NAMESPACE = "PromptRollback"

logger = Logger(service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
