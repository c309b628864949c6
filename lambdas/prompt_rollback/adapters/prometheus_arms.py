"""Both arms of a rollout from Prometheus (or Amazon Managed Service for Prometheus, SigV4-signed):
one instant query per measure over `/api/v1/query`, with `{{version}}` and `{{window}}` filled in."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from prompt_rollback.domain.canary.analysis import ArmObservations, Proportion
from prompt_rollback.errors import RegistryRejected, RegistryUnavailable
from prompt_rollback.ports import ArmsRead, PromptRef

# requests and errors are counts over the window; exact_match the successes' share; latency in ms.
REQUIRED = ("requests", "errors")
OPTIONAL = ("exact_match", "latency_p99_ms")


@dataclass(frozen=True)
class PrometheusQueries:
    """PromQL per measure; `{{version}}`, `{{prompt}}` and `{{window}}` (e.g. `1800s`) are replaced."""

    requests: str
    errors: str
    exact_match: str = ""
    latency_p99_ms: str = ""

    def filled(self, measure: str, prompt: str, version: int, window_seconds: int) -> str:
        text: str = getattr(self, measure)
        return (
            text.replace("{{version}}", str(version))
            .replace("{{prompt}}", prompt)
            .replace("{{window}}", f"{window_seconds}s")
        )


@dataclass
class PrometheusArmReader:
    base_url: str
    queries: PrometheusQueries
    region: str = ""  # set for AMP: requests are SigV4-signed for `aps` in this region
    credentials: Any = None  # botocore credentials (AMP)
    timeout_seconds: float = 10.0
    headers: Mapping[str, str] = field(default_factory=dict)
    calls: int = 0

    def _signed(self, url: str, params: dict[str, str]) -> dict[str, str]:
        if not self.region:
            return dict(self.headers)
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method="GET", url=str(httpx.URL(url, params=params)))
        SigV4Auth(self.credentials, "aps", self.region).add_auth(request)
        return {**self.headers, **dict(request.headers.items())}

    def _value(self, promql: str, at: datetime) -> float | None:
        url = self.base_url.rstrip("/") + "/api/v1/query"
        params = {"query": promql, "time": f"{at.timestamp():.3f}"}
        self.calls += 1
        try:
            response = httpx.get(
                url, params=params, headers=self._signed(url, params), timeout=self.timeout_seconds
            )
        except httpx.HTTPError as error:
            raise RegistryUnavailable(f"Prometheus query: {type(error).__name__}") from error
        if response.status_code >= 500 or response.status_code == 429:
            raise RegistryUnavailable(f"Prometheus query: HTTP {response.status_code}")
        body = response.json() if response.content else {}
        if response.status_code != 200 or body.get("status") != "success":
            raise RegistryRejected(
                f"Prometheus query refused: {str(body.get('error', response.status_code))[:300]}"
            )
        result = body.get("data", {}).get("result") or []
        if not result:
            return None
        value = float(result[0]["value"][1])
        return None if math.isnan(value) else value  # NaN: no data

    def _arm(self, prompt: str, version: int, window_seconds: int, at: datetime) -> ArmObservations:
        values: dict[str, float | None] = {}
        for measure in (*REQUIRED, *OPTIONAL):
            if getattr(self.queries, measure):
                values[measure] = self._value(
                    self.queries.filled(measure, prompt, version, window_seconds), at
                )
        requests = round(values.get("requests") or 0)
        errors = min(round(values.get("errors") or 0), requests)
        exact = values.get("exact_match")
        successes = requests - errors
        return ArmObservations(
            requests=requests,
            errors=errors,
            exact_match=Proportion(trials=successes, successes=round(min(max(exact, 0.0), 1.0) * successes))
            if exact is not None and successes
            else None,
            latency_p99_ms=values.get("latency_p99_ms") or None,
        )

    def read_arms(
        self, ref: PromptRef, candidate: int, stable: int, start: datetime, end: datetime
    ) -> ArmsRead:
        before = self.calls
        window = max(int((end - start).total_seconds()), 1)
        canary = self._arm(ref.name, candidate, window, end)
        stable_arm = self._arm(ref.name, stable, window, end)
        return ArmsRead(canary=canary, stable=stable_arm, calls=self.calls - before)
