"""`python -m bench.watcher`: what one watcher run costs for 1, 100 and 500 production prompts (the
figures behind docs/watcher.md): Langfuse calls, DynamoDB reads and writes, warm p50/p99 of the real
handler, peak RSS, and the handler's import-only RSS in a fresh interpreter (a cold start's share)."""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "lambdas"), str(REPO)]


def _environment() -> None:
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="ERROR",
        POWERTOOLS_SERVICE_NAME="prompt-rollback",
    )


def _seed(server: Any, prompts: int, now: datetime) -> None:
    from local_mode.langfuse_metrics import VersionTraffic, seed_version_traffic

    # Lighter traffic for many prompts: the local store aggregates in Python, and the point of
    # the 500-prompt row is the call count, not the store's speed.
    generations = 60 if prompts <= 100 else 4
    for index in range(prompts):
        name = f"prompt-{index:04d}"
        server.store.create(name, "v1", labels=[])
        server.store.create(name, "v2", labels=["production"])
        seed_version_traffic(
            server.metrics,
            VersionTraffic(version=1, generations=generations, exact_match_rate=0.9),
            now - timedelta(days=2),
            now - timedelta(hours=1),
            name,
        )
        seed_version_traffic(
            server.metrics,
            VersionTraffic(version=2, generations=generations, exact_match_rate=0.9),
            now - timedelta(minutes=25),
            now,
            name,
        )


# Local store on loopback, state table in moto (in-process). The durations are mostly the local store
# aggregating in Python; against Langfuse Cloud each call takes what its metrics query takes there.
def measure(prompts: int, runs: int) -> dict[str, Any]:
    import boto3
    from moto import mock_aws

    from local_mode.lambda_runtime import LocalLambdaContext
    from local_mode.langfuse_server import LangfuseCompatibleServer
    from local_mode.watcher import provision_state_table

    with mock_aws(), LangfuseCompatibleServer() as server:
        _seed(server, prompts, datetime.now(UTC))
        queue_url = boto3.client("sqs").create_queue(
            QueueName=f"bench-{uuid.uuid4().hex[:6]}.fifo", Attributes={"FifoQueue": "true"}
        )["QueueUrl"]
        os.environ.update(
            WATCH_STATE_TABLE_NAME=provision_state_table(f"bench-{uuid.uuid4().hex[:6]}"),
            ROLLBACK_QUEUE_URL=queue_url,
            LANGFUSE_HOST=server.url,
            LANGFUSE_PUBLIC_KEY=server.public_key,
            LANGFUSE_SECRET_KEY=server.secret_key,
        )
        from prompt_rollback import wiring
        from prompt_rollback.watcher import handler as watcher
        from prompt_rollback.watcher import wiring as watch_wiring

        wiring.reset()
        watch_wiring.reset()
        dynamodb_calls: Counter[str] = Counter()
        events = watch_wiring.state_store()._table.meta.client.meta.events
        events.register("before-call.dynamodb.*", lambda model, **_: dynamodb_calls.update([model.name]))

        watcher.lambda_handler({}, LocalLambdaContext("watcher"))  # warm-up (cold imports)
        dynamodb_calls.clear()
        durations, calls = [], set()
        for _ in range(runs):
            started = time.perf_counter()
            summary = watcher.lambda_handler({}, LocalLambdaContext("watcher"))
            durations.append((time.perf_counter() - started) * 1000)
            calls.add(summary["langfuse_calls"])
        durations.sort()
        return {
            "prompts": prompts,
            "langfuse_calls": sorted(calls),
            "dynamodb_per_run": {name: count / runs for name, count in sorted(dynamodb_calls.items())},
            "p50_ms": statistics.median(durations),
            "p99_ms": durations[min(len(durations) - 1, int(len(durations) * 0.99))],
            "peak_rss_mb": peak_rss_mb(),
        }


def peak_rss_mb() -> float:
    """This process's own peak RSS. Not ru_maxrss: a child started by fork and exec keeps its
    parent's maximum there, so a bench that has grown would be counted in every child."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: an upper bound


def import_rss_mb() -> float:
    code = (
        "import sys; sys.path[:0] = ['lambdas', '.']; "
        "import prompt_rollback.watcher.handler, prompt_rollback.watcher.wiring as w; "
        "import langfuse.api.client, prompt_rollback.watcher.observer; "
        "from bench.watcher import peak_rss_mb; print(peak_rss_mb())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.watcher", description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--prompts", type=int, nargs="*", default=[1, 100, 500])
    args = parser.parse_args()
    _environment()
    print(f"watcher run, warm, in-process (python {sys.version.split()[0]}, {args.runs} runs each)")
    for count in args.prompts:
        row = measure(count, args.runs)
        print(
            f"  {row['prompts']:>4} prompts: {row['langfuse_calls']} Langfuse calls, "
            f"DynamoDB/run {row['dynamodb_per_run']}, p50 {row['p50_ms']:.0f} ms, "
            f"p99 {row['p99_ms']:.0f} ms, process peak RSS {row['peak_rss_mb']:.0f} MB"
        )
    print(f"  handler imports alone (fresh interpreter): {import_rss_mb():.0f} MB RSS")


if __name__ == "__main__":
    main()
