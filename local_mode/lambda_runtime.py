"""Just enough of the Lambda runtime to run the real handlers locally: request bodies and REST API (v1)
proxy events as API Gateway makes them, and an SQS poller that plays the event source mapping with
ReportBatchItemFailures (failures left for the redrive policy)."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from wsgiref.types import WSGIEnvironment

import boto3
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import get_input_stream


@dataclass
class LocalLambdaContext:
    function_name: str
    memory_limit_in_mb: int = 256
    timeout_seconds: float = 60.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"

    @property
    def function_version(self) -> str:
        return "$LATEST"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000))


def request_body(environ: WSGIEnvironment, limit: int) -> bytes | None:
    """The body of a WSGI request, or None when it is longer than `limit` bytes.

    werkzeug's server de-chunks a chunked body and marks the stream terminated; its
    `get_input_stream` reads either kind up to a maximum, and takes a Content-Length that is
    not a number as an empty body. One byte past the limit is asked for, so that a body of
    exactly `limit` bytes is told apart from a longer one the stream would cut silently."""
    try:
        body = get_input_stream(environ, max_content_length=limit + 1).read()
    except RequestEntityTooLarge:
        return None
    return None if len(body) > limit else body


def api_gateway_event(
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    query: Mapping[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    stage: str = "local",
) -> dict[str, Any]:
    try:
        text, is_base64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_base64 = base64.b64encode(body).decode(), True
    request_id = str(uuid.uuid4())
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": dict(headers),
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": dict(query) if query else None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "requestId": request_id,
            "stage": stage,
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "resourcePath": path,
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": source_ip},
        },
        "body": text if body else None,
        "isBase64Encoded": is_base64,
    }


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


WorkerHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


class SqsPoller:
    """Feeds the worker from the queue until stopped."""

    def __init__(
        self,
        queue_url: str,
        handler: WorkerHandler,
        on_batch: Callable[[list[dict[str, Any]]], None] | None = None,
        wait_seconds: int = 1,
    ) -> None:
        self._sqs = boto3.client("sqs")
        self._queue_url = queue_url
        self._handler = handler
        self._on_batch = on_batch
        self._wait_seconds = wait_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqs-poller", daemon=True)
        attributes = self._sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        self._queue_arn = attributes["Attributes"]["QueueArn"]
        self._region = self._sqs.meta.region_name
        self.batches = 0

    def start(self) -> SqsPoller:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._wait_seconds + 10)

    def poll_once(self) -> int:
        response = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=self._wait_seconds,
            MessageSystemAttributeNames=["All"],
        )
        messages: list[Any] = list(response.get("Messages", []))
        if not messages:
            return 0
        try:
            result = self._handler(
                sqs_event(messages, self._queue_arn, self._region), LocalLambdaContext("worker")
            )
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:
            # A failed invocation (Powertools raises when every record failed): like Lambda,
            # delete nothing and let the messages come back after the visibility timeout.
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )
        self.batches += 1
        if self._on_batch:
            try:
                self._on_batch(messages)
            except Exception as error:  # reporting is a courtesy; the batch itself went through
                print(f"[local] could not report the batch: {type(error).__name__}", flush=True)
        return len(messages)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as error:  # keep polling: a local worker should survive a bad batch
                print(f"[local] worker batch failed: {type(error).__name__}: {error}", flush=True)
                self._stop.wait(1)
