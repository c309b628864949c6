"""Local mode serves HTTP from many threads, but the handlers share process-global state
(Powertools' resolver keeps the current event in a class attribute, metrics in a shared dict):
concurrent Alertmanager posts must each be answered about their own body."""

from __future__ import annotations

import copy
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from local_mode.service import DEMO_TOKEN
from tests.integration.conftest import LocalMode

CALLS = 40


def test_concurrent_posts_are_each_answered_about_their_own_alerts(local_mode: LocalMode, firing_body):
    def body_for(index: int) -> bytes:
        body = copy.deepcopy(firing_body)
        alert = body["alerts"][0]
        alert["labels"]["prompt_name"] = f"concurrent-{index}"
        alert["fingerprint"] = f"{index:016x}"
        return json.dumps(body).encode()

    barrier = threading.Barrier(CALLS)

    def post(index: int) -> list[str]:
        payload = body_for(index)
        barrier.wait()
        response = requests.post(
            f"{local_mode.url}/alerts",
            data=payload,
            headers={"Authorization": f"Bearer {DEMO_TOKEN}", "Content-Type": "application/json"},
            timeout=30,
        )
        assert response.status_code == 202, response.text
        return [accepted["prompt_name"] for accepted in response.json()["accepted"]]

    with ThreadPoolExecutor(CALLS) as pool:
        answered = list(pool.map(post, range(CALLS)))
    assert answered == [[f"concurrent-{index}"] for index in range(CALLS)]
