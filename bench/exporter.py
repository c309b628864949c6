"""The Langfuse exporter's figures: API calls per refresh for 1 and 500 prompts, refresh time, RSS,
against the Langfuse-compatible store on loopback through the real `langfuse` SDK."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from local_mode.langfuse_server import LangfuseCompatibleServer

REPO = Path(__file__).resolve().parent.parent

Figure = tuple[str, str, str, bool | None]  # metric, figure, target, ok


# Each prompt has two versions and production traffic in the windows (4 generations with their
# scores); every request the store sees is counted.
def _store_with(prompts: int) -> LangfuseCompatibleServer:
    from local_mode.langfuse_metrics import VersionTraffic, seed_version_traffic
    from local_mode.langfuse_server import LangfuseCompatibleServer

    server = LangfuseCompatibleServer().start()
    now = datetime.now(UTC)
    for index in range(prompts):
        name = f"prompt-{index:03d}"
        server.store.create(name, "v1", labels=[])
        server.store.create(name, "v2", labels=["production"])
        seed_version_traffic(
            server.metrics, VersionTraffic(2, 4, 0.9), now - timedelta(minutes=10), now, prompt_name=name
        )
    return server


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_exporter(refreshes: int = 5) -> list[Figure]:
    from langfuse.api.client import LangfuseAPI
    from prompt_rollback.domain.rollout_split import DEFAULT_CANDIDATE_LABEL
    from prompt_rollback.measurements import MeasurementSettings, measure

    figures: list[Figure] = []
    calls: dict[int, int] = {}
    for prompts in (1, 500):
        server = _store_with(prompts)
        try:
            api = LangfuseAPI(base_url=server.url, username=server.public_key, password=server.secret_key)
            durations = []
            for _ in range(refreshes):
                server.app.requests.clear()
                started = time.perf_counter()
                # As the exporter reads by default: rollouts too (no prompt here holds the label).
                measure(api, MeasurementSettings(candidate_label=DEFAULT_CANDIDATE_LABEL), datetime.now(UTC))
                durations.append(time.perf_counter() - started)
            requests = server.app.requests
            metrics = sum(1 for _, path in requests if path == "/api/public/v2/metrics")
            calls[prompts] = metrics
            figures.append(
                (
                    f"exporter refresh, {prompts} prompt(s): Langfuse API calls",
                    f"{len(requests)} ({metrics} metrics + {len(requests) - metrics} prompts list)",
                    "metrics calls constant",
                    None,
                )
            )
            figures.append(
                (
                    f"exporter refresh, {prompts} prompt(s): time (median of {refreshes})",
                    f"{statistics.median(durations) * 1000:.0f} ms",
                    "",
                    None,
                )
            )
            if prompts == 500:
                figures.append(
                    ("exporter process RSS, 500 prompts", f"{_exporter_rss(server):.0f} MB", "", None)
                )
        finally:
            server.stop()
    ok = calls[1] == calls[500]
    figures[0] = (*figures[0][:3], ok)
    figures[2] = (*figures[2][:3], ok)
    return figures


def _exporter_rss(server: LangfuseCompatibleServer) -> float:
    """RSS of `python -m prompt_rollback_exporter` after three refreshes of the 500-prompt store."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("LANGFUSE_", "PROMPT_ROLLBACK_EXPORTER_"))
    }
    env.update(
        LANGFUSE_HOST=server.url,
        LANGFUSE_PUBLIC_KEY=server.public_key,
        LANGFUSE_SECRET_KEY=server.secret_key,
        PROMPT_ROLLBACK_EXPORTER_LISTEN=f"127.0.0.1:{port}",
        PROMPT_ROLLBACK_EXPORTER_REFRESH_INTERVAL="1s",
        PYTHONPATH=os.pathsep.join([str(REPO / "lambdas"), str(REPO)]),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "prompt_rollback_exporter"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                    if b"langfuse_prompt_production" in response.read():
                        break
            except OSError:
                pass
            time.sleep(0.2)
        time.sleep(3)  # a few background refreshes and scrapes
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            response.read()
        return _rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=10)
