"""The Prometheus provider against the real Prometheus binary (Debian's `prometheus`) over its HTTP
API: PromQL literals carry the version, so no scrape is needed; and SigV4 signing for AMP."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from botocore.credentials import Credentials
from prompt_rollback.adapters.prometheus_arms import PrometheusArmReader, PrometheusQueries
from prompt_rollback.errors import RegistryRejected
from prompt_rollback.ports import PromptRef

BINARY = shutil.which("prometheus")
QUERIES = PrometheusQueries(
    requests="vector(1000 * {{version}})",
    errors="vector({{version}})",
    exact_match="vector(0.9 - 0.01 * {{version}})",
    latency_p99_ms="vector(100 * {{version}})",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if BINARY is None:
        pytest.skip("no prometheus binary: apt-get install -y --no-install-recommends prometheus")
    root = tmp_path_factory.mktemp("prometheus")
    config = Path(root, "prometheus.yml")
    config.write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
    port = free_port()
    process = subprocess.Popen(
        [BINARY, f"--config.file={config}", f"--storage.tsdb.path={root / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("prometheus did not become ready")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_both_arms_are_read_with_the_version_filled_in(prometheus):
    reader = PrometheusArmReader(prometheus, QUERIES)
    end = datetime.now(UTC)
    read = reader.read_arms(PromptRef("support-answer"), 8, 7, end - timedelta(minutes=30), end)
    assert (read.canary.requests, read.canary.errors, read.canary.latency_p99_ms) == (8000, 8, 800.0)
    assert (read.stable.requests, read.stable.errors) == (7000, 7)
    assert read.canary.exact_match is not None
    assert read.canary.exact_match.successes == round(0.82 * (8000 - 8))
    assert read.calls == 8  # four measures per arm


def test_a_query_prometheus_refuses_is_a_clear_error(prometheus):
    reader = PrometheusArmReader(prometheus, PrometheusQueries(requests="sum(", errors="vector(0)"))
    end = datetime.now(UTC)
    with pytest.raises(RegistryRejected, match="Prometheus query refused"):
        reader.read_arms(PromptRef("p"), 2, 1, end - timedelta(minutes=5), end)


def test_amp_requests_are_sigv4_signed(prometheus, monkeypatch):
    seen: list[httpx.Request] = []
    original = httpx.get

    def recording_get(url, **kwargs):
        seen.append(httpx.Request("GET", url, params=kwargs.get("params"), headers=kwargs.get("headers")))
        return original(url, **kwargs)

    credentials = Credentials("AKIDEXAMPLE", "secret")
    reader = PrometheusArmReader(prometheus, QUERIES, region="eu-west-1", credentials=credentials)
    monkeypatch.setattr(httpx, "get", recording_get)
    end = datetime.now(UTC)
    reader.read_arms(PromptRef("p"), 2, 1, end - timedelta(minutes=5), end)
    authorization = seen[0].headers["authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/aps/aws4_request" in authorization and "x-amz-date" in seen[0].headers
