"""Bodies built to break the parsers are a 4xx that says what is wrong, never a 500: too many form
fields, JSON nested past any parser's recursion, a compressed body, a byte-order mark, no length."""

from __future__ import annotations

import gzip
import json
import socket
from urllib.parse import urlencode

import requests

from local_mode.service import DEMO_TOKEN
from tests.integration.conftest import LocalMode, Stack
from tests.integration.slack_app_stack import AppStack

DEEP = 20_000


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_a_signed_slack_body_with_too_many_form_fields_is_400(app_stack: AppStack):
    raw = urlencode({f"field{i}": "x" for i in range(6)})
    status, _, _ = app_stack.click("rb-x", "undo", body=raw)
    assert status == 400
    assert app_stack.stack.queue_depth(app_stack.stack.resources.queue_url) == 0


def test_a_signed_slack_payload_nested_past_recursion_is_400(app_stack: AppStack):
    # Brackets need no percent-encoding in a form body: 40 KB, inside the function's 64 KB cap.
    raw = 'payload={"type":"block_actions","actions":' + _nested(DEEP) + "}"
    status, _, _ = app_stack.click("rb-x", "undo", body=raw)
    assert status == 400


def test_a_gzip_body_is_415_naming_the_encoding(stack: Stack, firing_body):
    raw = gzip.compress(json.dumps(firing_body).encode())
    status, body = _post_alerts(stack, raw, {"Content-Encoding": "gzip"})
    assert status == 415
    assert body["error"] == "Content-Encoding gzip is not supported: send the body uncompressed"
    assert stack.queue_depth(stack.resources.queue_url) == 0


def test_a_body_starting_with_a_byte_order_mark_is_400_saying_so(stack: Stack, firing_body):
    status, body = _post_alerts(stack, b"\xef\xbb\xbf" + json.dumps(firing_body).encode(), {})
    assert status == 400
    assert body["error"] == "body starts with a byte-order mark: send JSON without one (RFC 8259)"


def test_local_events_nested_past_recursion_is_400(local_mode: LocalMode):
    response = requests.post(
        f"{local_mode.url}/events",
        data=_nested(DEEP),
        headers={"Authorization": f"Bearer {DEMO_TOKEN}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert response.json() == {"error": "body is not valid JSON"}


def test_local_mode_answers_a_body_without_a_length_411(local_mode: LocalMode):
    host, port = local_mode.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(  # neither Content-Length nor Transfer-Encoding: where does it end?
            b"POST /alerts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {DEMO_TOKEN}\r\n".encode()
            + b"Connection: close\r\n\r\n{}"
        )
        status_line = connection.makefile("rb").readline()
    assert status_line.split()[1] == b"411", status_line


def _post_alerts(stack: Stack, raw: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    from prompt_rollback.sources import webhook_handler as webhook

    from local_mode.lambda_runtime import LocalLambdaContext, api_gateway_event
    from tests.integration.conftest import TOKEN

    all_headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}", **headers}
    result = webhook.lambda_handler(
        api_gateway_event("POST", "/alerts", all_headers, raw), LocalLambdaContext("webhook")
    )
    return int(result["statusCode"]), json.loads(result.get("body") or "{}")
