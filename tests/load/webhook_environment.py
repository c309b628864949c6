"""One execution environment of the webhook function, as a process of its own.
Protocol: one API Gateway event per line on stdin, one handler result per line on the original stdout;
the handler's own output (logs, EMF metrics) goes to stderr."""

from __future__ import annotations

import json
import os
import sys


# Lambda runs one invocation at a time per environment. In one process the handler cannot run
# concurrently: Powertools' resolver keeps the current event in a class attribute
# (BaseRouter.current_event) and the metrics in a shared dict, so two threads answer each other's requests.
def main() -> None:
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    from prompt_rollback.sources import webhook_handler as webhook

    from local_mode.lambda_runtime import LocalLambdaContext

    answers.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        event = json.loads(line)
        try:
            result = webhook.lambda_handler(event, LocalLambdaContext("webhook"))
        except Exception as error:  # Lambda reports an error; API Gateway answers 502
            result = {"statusCode": 502, "body": json.dumps({"error": type(error).__name__})}
        answers.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
