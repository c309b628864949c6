"""The exporter as Prometheus sees it: /metrics over HTTP, fed from the Langfuse-compatible store.

In-process tests build the exporter with `build()` and serve it with prometheus_client's own
HTTP server on a free loopback port; start-up behaviour (bad settings, a server without the
v2 metrics API) runs the real entry point as a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import start_http_server
from prometheus_client.parser import text_string_to_metric_families

from local_mode.langfuse_metrics import seed_demo_traffic
from local_mode.langfuse_server import LangfuseCompatibleServer, seed_demo_prompt
from prompt_rollback_exporter.__main__ import build
from prompt_rollback_exporter.refresher import Refresher
from prompt_rollback_exporter.settings import ExporterSettings

REPO = Path(__file__).resolve().parents[2]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def langfuse() -> Iterator[LangfuseCompatibleServer]:
    with LangfuseCompatibleServer() as server:
        seed_demo_prompt(server.store)
        seed_demo_traffic(server.metrics, datetime.now(UTC))
        yield server


def settings_for(server: LangfuseCompatibleServer, **overrides: str) -> ExporterSettings:
    env = {
        "LANGFUSE_HOST": server.url,
        "LANGFUSE_PUBLIC_KEY": server.public_key,
        "LANGFUSE_SECRET_KEY": server.secret_key,
        "PROMPT_ROLLBACK_EXPORTER_LISTEN": "127.0.0.1:0",
        **overrides,
    }
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith(("LANGFUSE_", "PROMPT_ROLLBACK_EXPORTER_"))]:
            patch.delenv(key)
        for key, value in env.items():
            patch.setenv(key, value)
        return ExporterSettings()  # type: ignore[call-arg]


@contextmanager
def serving(settings: ExporterSettings) -> Iterator[tuple[str, Refresher]]:
    registry, refresher = build(settings)
    server, thread = start_http_server(0, "127.0.0.1", registry=registry)
    try:
        yield f"http://127.0.0.1:{server.server_port}/metrics", refresher
    finally:
        refresher.stop()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def prompt_series(samples: Samples) -> list[str]:
    return sorted({name for name, _ in samples if name.startswith("langfuse_prompt_")})


def test_metrics_show_the_demo_regression_in_the_shapes_the_rules_read(langfuse):
    with serving(settings_for(langfuse)) as (url, refresher):
        refresher.refresh_once()
        samples = scrape(url)

    v7 = {"prompt_name": "support-answer", "prompt_version": "7"}
    assert value(samples, "langfuse_prompt_production", **v7) == 1
    average = value(samples, "langfuse_prompt_score_avg", **v7, score="exact_match")
    baseline = value(samples, "langfuse_prompt_score_baseline", **v7, score="exact_match")
    assert average is not None and baseline is not None and average < baseline - 0.05
    assert value(samples, "langfuse_prompt_score_count", **v7, score="exact_match") >= 50  # type: ignore[operator]
    assert value(samples, "langfuse_prompt_observations", **v7, level="DEFAULT")
    assert value(samples, "langfuse_prompt_latency_p99_seconds", **v7)
    assert value(samples, "langfuse_prompt_latency_p99_baseline_seconds", **v7)
    assert value(samples, "langfuse_prompt_feedback_down_count", **v7, score="user_feedback") is not None
    assert value(samples, "langfuse_exporter_refresh_interval_seconds") == 60
    assert value(samples, "langfuse_exporter_last_refresh_success_timestamp_seconds") == pytest.approx(
        time.time(), abs=30
    )
    assert (
        value(
            samples, "langfuse_exporter_api_calls_total", endpoint="GET /api/public/v2/metrics", status="200"
        )
        == 6
    )


def test_the_environment_setting_labels_every_prompt_series(langfuse):
    with serving(settings_for(langfuse, PROMPT_ROLLBACK_EXPORTER_ENVIRONMENT="default")) as (url, refresher):
        refresher.refresh_once()
        samples = scrape(url)
    prompt_samples = [dict(labels) for name, labels in samples if name.startswith("langfuse_prompt_")]
    assert prompt_samples
    assert all(labels.get("env") == "default" for labels in prompt_samples)


def test_values_survive_one_failed_refresh_and_go_after_two_intervals(langfuse):
    interval = 1.0
    with serving(settings_for(langfuse, PROMPT_ROLLBACK_EXPORTER_REFRESH_INTERVAL="1s")) as (url, refresher):
        refresher.refresh_once()
        refreshed = time.time()
        langfuse.app.fail_next(503, count=1000)
        refresher.refresh_once()  # fails: the last values are still within two intervals
        kept = scrape(url)
        assert time.time() - refreshed < 2 * interval
        assert "langfuse_prompt_score_avg" in prompt_series(kept)

        time.sleep(max(0.0, refreshed + 2 * interval + 0.3 - time.time()))
        refresher.refresh_once()
        dropped = scrape(url)
    assert prompt_series(dropped) == []
    assert value(dropped, "langfuse_exporter_refresh_errors_total", reason="unavailable") == 2
    assert (
        value(
            dropped, "langfuse_exporter_api_calls_total", endpoint="GET /api/public/v2/prompts", status="503"
        )
        == 2
    )


def test_a_429_pushes_the_next_refresh_back_by_retry_after(langfuse):
    with serving(settings_for(langfuse)) as (url, refresher):
        langfuse.app.fail_next(429, retry_after="120", path_prefix="/api/public/v2/metrics")
        delay = refresher.refresh_once()
        samples = scrape(url)
    assert delay == 120
    assert value(samples, "langfuse_exporter_refresh_errors_total", reason="rate_limited") == 1


def test_a_slow_langfuse_never_blocks_a_scrape(langfuse):
    with serving(settings_for(langfuse)) as (url, refresher):
        refresher.refresh_once()
        langfuse.app.delay_next(3.0)
        slow = threading.Thread(target=refresher.refresh_once)
        slow.start()
        time.sleep(0.2)
        started = time.monotonic()
        samples = scrape(url)
        took = time.monotonic() - started
        slow.join(timeout=10)
    assert took < 1.0
    assert "langfuse_prompt_production" in prompt_series(samples)


def test_a_400_is_logged_with_its_message_and_the_exporter_goes_on(langfuse, caplog):
    with serving(settings_for(langfuse, PROMPT_ROLLBACK_EXPORTER_REFRESH_INTERVAL="1s")) as (url, refresher):
        langfuse.app.fail_next(400, path_prefix="/api/public/v2/metrics")
        with caplog.at_level("ERROR", logger="prompt_rollback_exporter"):
            refresher.start()
            deadline = time.monotonic() + 10
            while "langfuse_prompt_production" not in prompt_series(scrape(url)):
                assert time.monotonic() < deadline, "the exporter did not recover after the 400"
                time.sleep(0.1)
        samples = scrape(url)
    assert any("rejected the observations metrics query: injected fault" in r.message for r in caplog.records)
    assert value(samples, "langfuse_exporter_refresh_errors_total", reason="rejected_query") == 1


# ---- the process, as started by a user -----------------------------------------------------------
def run_exporter(env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("LANGFUSE_", "PROMPT_ROLLBACK_EXPORTER_"))
    }
    clean["PYTHONPATH"] = os.pathsep.join([str(REPO / "lambdas"), str(REPO)])
    return subprocess.run(
        [sys.executable, "-m", "prompt_rollback_exporter"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )


def test_bad_settings_stop_it_at_start_naming_each_variable():
    result = run_exporter(
        {
            "LANGFUSE_SECRET_KEY": "sk-lf-do-not-print-me",
            "PROMPT_ROLLBACK_EXPORTER_REFRESH_INTERVAL": "soon",
            "PROMPT_ROLLBACK_EXPORTER_LISTEN": "nowhere",
        }
    )
    assert result.returncode == 2
    assert "invalid settings" in result.stderr
    assert "LANGFUSE_PUBLIC_KEY" in result.stderr
    assert "PROMPT_ROLLBACK_EXPORTER_REFRESH_INTERVAL: not a duration: 'soon'" in result.stderr
    assert "PROMPT_ROLLBACK_EXPORTER_LISTEN" in result.stderr
    assert "sk-lf-do-not-print-me" not in result.stderr + result.stdout


def test_a_langfuse_without_v2_metrics_is_said_plainly_at_start(langfuse):
    langfuse.app.metrics_v2_available = False
    result = run_exporter(
        {
            "LANGFUSE_HOST": langfuse.url,
            "LANGFUSE_PUBLIC_KEY": langfuse.public_key,
            "LANGFUSE_SECRET_KEY": langfuse.secret_key,
            "PROMPT_ROLLBACK_EXPORTER_LISTEN": "127.0.0.1:0",
        }
    )
    assert result.returncode == 3
    assert "no GET /api/public/v2/metrics" in result.stderr


def test_refused_keys_are_said_plainly_at_start(langfuse):
    result = run_exporter(
        {
            "LANGFUSE_HOST": langfuse.url,
            "LANGFUSE_PUBLIC_KEY": langfuse.public_key,
            "LANGFUSE_SECRET_KEY": "sk-lf-wrong",
            "PROMPT_ROLLBACK_EXPORTER_LISTEN": "127.0.0.1:0",
        }
    )
    assert result.returncode == 3
    assert "HTTP 401" in result.stderr and "LANGFUSE_SECRET_KEY" in result.stderr
    assert "sk-lf-wrong" not in result.stderr
