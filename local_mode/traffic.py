"""Simulated traffic for local mode: every request split through the client library (`rollout_prompt`,
the real Langfuse SDK against the embedded store), its generation and exact-match score written into
the store, where the rollout's analysis reads them through metrics v2."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prompt_rollout import rollout_prompt

from local_mode.langfuse_metrics import MetricsStore
from local_mode.traffic_file import PromptTraffic, TrafficError, TrafficFile

EXACT_MATCH_SCORE = "exact_match"
TICK_SECONDS = 0.1
PRUNE_EVERY = timedelta(seconds=5)


def _versions(langfuse: Any, name: str) -> tuple[list[int], int | None]:
    """The versions the store holds of `name`, and which one is production (None: none)."""
    metas = langfuse.api.prompts.list(name=name, limit=100).data
    versions = sorted({v for meta in metas if meta.name == name for v in meta.versions})
    try:
        production = int(langfuse.api.prompts.get(name, label="production").version)
    except Exception as error:
        if getattr(error, "status_code", None) != 404:
            raise
        production = None
    return versions, production


def _missing(name: str, traffic: PromptTraffic, held: list[int], production: int | None) -> list[int]:
    """The versions to create, after checking that the file can be simulated as it stands."""
    where = f"prompts.{name}.versions"
    missing = sorted(v for v in traffic.versions if v not in held)
    has = f"it has v{held[0]} to v{held[-1]}" if held else "it has no versions"
    for version in missing:
        if traffic.versions[version].prompt is None:
            raise TrafficError(
                f"{where}.{version}: {name} has no version {version} ({has}); "
                "give its text (`prompt:`) to have it created"
            )
    following = list(range(len(held) + 1, len(held) + 1 + len(missing)))
    if missing != following:
        wrong = next(v for v, expected in zip(missing, following, strict=True) if v != expected)
        raise TrafficError(
            f"{where}.{wrong}: cannot create v{wrong}: the next version of {name} is v{following[0]}"
        )
    stable = production if held else (missing[0] if missing else None)
    if stable is None:
        raise TrafficError(f"{where}: {name} has no production version to serve")
    if stable not in traffic.versions:
        raise TrafficError(
            f"{where}: {name}'s production version {stable} is not in the file: say how it behaves"
        )
    return missing


def prepare_versions(langfuse: Any, traffic: TrafficFile) -> list[str]:
    """Create the versions the file gives text for and the store lacks (a new prompt's first version
    gets `production`), through the SDK's POST /api/public/v2/prompts. Everything is checked first:
    a file that does not fit the store raises TrafficError and creates nothing."""
    plan = {}
    for name, prompt in traffic.prompts.items():
        held, production = _versions(langfuse, name)
        plan[name] = (_missing(name, prompt, held, production), not held)
    created = []
    for name, (missing, new_prompt) in plan.items():
        for version in missing:
            text = traffic.prompts[name].versions[version].prompt
            labels = ["production"] if new_prompt and version == missing[0] else []
            made = langfuse.create_prompt(
                name=name, prompt=text, labels=labels, commit_message=f"local mode traffic: v{version}"
            )
            created.append(f"{name} v{made.version}" + (" (production)" if labels else ""))
    return created


@dataclass
class _Stream:
    name: str
    traffic: PromptTraffic
    rate: float  # requests per real second
    owed: float = 0.0
    unknown: set[int] = field(default_factory=set)  # served versions the file says nothing of


class TrafficSimulator:
    """Sends each prompt's requests on a thread, `speed` seconds of traffic per real second."""

    def __init__(
        self,
        traffic: TrafficFile,
        langfuse: Any,
        store: MetricsStore,
        say: Callable[[str], None],
        speed: float,
        cache_ttl_seconds: int | None,
        retention: timedelta,
    ) -> None:
        self._langfuse = langfuse
        self._store = store
        self._say = say
        self._ttl = cache_ttl_seconds
        self._retention = retention
        self._random = random.Random(traffic.seed)  # noqa: S311 - simulated traffic, not security
        self._streams = [
            _Stream(name, prompt, prompt.requests_per_second * speed)
            for name, prompt in traffic.prompts.items()
        ]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="traffic", daemon=True)
        self.requests = 0

    def start(self) -> TrafficSimulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def describe(self) -> list[str]:
        return [
            f"{s.name} {s.rate:,.0f} requests/s over {s.traffic.units:,} units, versions "
            + ", ".join(str(v) for v in sorted(s.traffic.versions))
            for s in self._streams
        ]

    def _run(self) -> None:
        began = last = datetime.now(UTC)
        pruned = began
        while not self._stop.wait(TICK_SECONDS):
            now = datetime.now(UTC)
            for stream in self._streams:
                self._send(stream, last, now)
            last = now
            if now - pruned >= PRUNE_EVERY:
                # Only what the simulator wrote: the demo's seeded history stays.
                self._store.prune(since=began, before=now - self._retention)
                pruned = now

    def _send(self, stream: _Stream, last: datetime, now: datetime) -> None:
        stream.owed += stream.rate * (now - last).total_seconds()
        count = int(stream.owed)
        stream.owed -= count
        for index in range(count):
            # Spread over the interval, in time order (the store finds a window by bisection).
            self._request(stream, last + (now - last) * ((index + 1) / count))

    def _request(self, stream: _Stream, moment: datetime) -> None:
        draw = self._random
        unit = f"unit-{draw.randrange(stream.traffic.units)}"
        try:
            served = rollout_prompt(self._langfuse, stream.name, unit=unit, cache_ttl_seconds=self._ttl)
        except Exception as error:  # the stable prompt unreadable: say so once per kind, keep going
            self._once(
                stream, -1, f"[traffic] {stream.name}: cannot read the prompt ({type(error).__name__})"
            )
            return
        behaviour = stream.traffic.versions.get(served.version)
        if behaviour is None:
            self._once(
                stream,
                served.version,
                f"[traffic] {stream.name} v{served.version} is served, but the traffic file does not say "
                "how it behaves: its requests are not recorded",
            )
            return
        failed = draw.random() < behaviour.error_rate
        generation = self._store.add_generation(
            stream.name,
            served.version,
            moment,
            latency_ms=behaviour.latency_ms * draw.uniform(0.6, 1.4),
            level="ERROR" if failed else "DEFAULT",
            total_cost=0.0004,
        )
        if not failed:
            self._store.add_score(
                generation, EXACT_MATCH_SCORE, draw.random() < behaviour.exact_match, moment
            )
        self.requests += 1

    def _once(self, stream: _Stream, version: int, line: str) -> None:
        if version not in stream.unknown:
            stream.unknown.add(version)
            self._say(line)
