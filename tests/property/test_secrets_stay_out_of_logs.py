"""The webhook token, the Slack webhook URL's path and the Langfuse secret key never appear in
anything the functions log or print, across a full flow that takes the failure paths too
(Langfuse 5xx and down, Slack 5xx and unreachable, wrong tokens, bad bodies).

Captured: our Powertools logger at DEBUG through a handler of its own (the Logger binds stdout
when it is built, at import, before any pytest capture), every other logger at DEBUG except
botocore/boto3 and the fake AWS (moto, werkzeug) at INFO, and the process's stdout/stderr file
descriptors (capfd). botocore's DEBUG output prints whole API responses, the token's
GetSecretValue included: it must never be switched on in a deployment, which is why it is not
part of what is checked here."""

from __future__ import annotations

import base64
import copy
import io
import logging
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import pytest
from langfuse.api.core import http_client
from prompt_rollback.observability import logger as app_logger

from local_mode.langfuse_server import seed_demo_prompt
from local_mode.slack_api_server import BOT_TOKEN
from tests.integration.conftest import TOKEN, Stack
from tests.integration.slack_app_stack import SIGNING_SECRET

QUIETER = ("botocore", "boto3", "moto", "werkzeug")


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    ours = logging.getLogger(app_logger.name)
    ours_handler = logging.StreamHandler(stream)
    ours_handler.setFormatter(app_logger.registered_formatter)
    everything = logging.StreamHandler(stream)
    everything.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    saved = {"ours": ours.level, "root": root.level, **{n: logging.getLogger(n).level for n in QUIETER}}
    ours.addHandler(ours_handler)
    ours.setLevel(logging.DEBUG)
    root.addHandler(everything)
    root.setLevel(logging.DEBUG)
    for name in QUIETER:
        logging.getLogger(name).setLevel(logging.INFO)
    try:
        yield stream
    finally:
        ours.removeHandler(ours_handler)
        root.removeHandler(everything)
        ours.setLevel(saved["ours"])
        root.setLevel(saved["root"])
        for name in QUIETER:
            logging.getLogger(name).setLevel(saved[name])


def secrets_of(stack: Stack) -> dict[str, str]:
    slack_path = urlsplit(stack.slack.url).path
    basic = base64.b64encode(f"{stack.langfuse.public_key}:{stack.langfuse.secret_key}".encode()).decode()
    return {
        "webhook token": TOKEN,
        "Slack webhook path": slack_path,
        "Slack webhook token": slack_path.rsplit("/", 1)[1],
        "Slack webhook path, URL-encoded": quote(slack_path, safe=""),
        "Langfuse secret key": stack.langfuse.secret_key,
        "Langfuse basic auth": basic,
    }


def alert_for(firing_body: dict, prompt: str, fingerprint: str) -> dict:
    body = copy.deepcopy(firing_body)
    body["alerts"][0]["labels"]["prompt_name"] = prompt
    body["alerts"][0]["fingerprint"] = fingerprint
    return body


def test_secrets_never_reach_logs_or_output(stack: Stack, firing_body, captured_logs, capfd, monkeypatch):
    monkeypatch.setattr(http_client, "_retry_timeout", lambda response, retries: 0.0)
    for prompt in ("langfuse-down", "slack-unreachable"):
        seed_demo_prompt(stack.langfuse.store, prompt)

    # The webhook: right token, wrong tokens, a bad body.
    assert stack.post(firing_body)[0] == 202
    assert stack.post(firing_body, token="wrong")[0] == 401
    assert stack.post(firing_body, token=TOKEN + "x")[0] == 401
    assert stack.post(None, raw=b'{"version": "4", "alerts": [')[0] == 400
    # A rollback through a Langfuse 5xx (retried by the SDK) and a Slack 5xx (retried by slack_sdk).
    stack.langfuse.app.fail_next(503, count=1)
    stack.slack.fail_next(500, count=1)
    stack.drain()
    assert stack.decisions()[-1]["outcome"] == "rolled_back"
    # A rollback Langfuse refuses every time: logged with its traceback, audited as failed.
    stack.post(alert_for(firing_body, "langfuse-down", "0000000000000001"))
    stack.langfuse.app.fail_next(503, count=100)
    stack.drain()
    stack.langfuse.app.clear_faults()
    assert stack.decisions("langfuse-down")[-1]["outcome"] == "failed"
    # A rollback whose Slack is unreachable: slack_sdk logs its connection retries, URL included.
    stack.slack.stop()
    stack.post(alert_for(firing_body, "slack-unreachable", "0000000000000002"))
    stack.drain()
    slack = stack.decisions("slack-unreachable")[-1]["slack"]
    assert slack == {"status": "failed", "detail": "ConnectionRefusedError"}

    out, err = capfd.readouterr()
    logged = captured_logs.getvalue()
    # The failure paths were logged: slack_sdk's retries and its DEBUG lines (which carry the URL).
    assert "rollback failed" in logged and "Going to retry the same request" in logged
    assert "Sending a request - url: http://127.0.0.1" in logged
    for where, text in (("logs", logged), ("stdout", out), ("stderr", err)):
        for what, secret in secrets_of(stack).items():
            assert secret not in text, f"{what} found in {where}"


def test_the_bot_token_and_the_signing_secret_stay_out_of_logs_and_slack(
    app_stack, firing_body, captured_logs, capfd
):
    stack = app_stack.stack
    stack.post(firing_body)
    stack.drain()
    rollback_id = stack.decisions()[-1]["request_id"]
    app_stack.click(rollback_id, "undo")  # signed: verified, queued, moved
    app_stack.click(rollback_id, "undo", secret="wrong")  # forged: 401
    app_stack.slack_api.fail_next("chat.update", status=500)  # Slack failing on the update
    stack.drain()
    app_stack.slack_api.stop()  # and Slack unreachable
    app_stack.click(f"undo-{rollback_id}", "undo")
    stack.drain()
    out, err = capfd.readouterr()
    shown = captured_logs.getvalue() + out + err + repr(app_stack.slack_api.messages)
    assert stack.production() == 6  # the undo and the undo of the undo both went through
    for secret in (BOT_TOKEN, SIGNING_SECRET):
        assert secret not in shown
