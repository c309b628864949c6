"""Both arms of a rollout from Langfuse metrics v2 (measurements/arms.py), as the ArmReader port.
Measurement failures become RegistryUnavailable: the tick is retried, nothing is decided on no data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prompt_rollback.errors import RegistryUnavailable
from prompt_rollback.measurements import MeasurementError
from prompt_rollback.measurements.arms import ArmScores, measure_arms
from prompt_rollback.measurements.client import langfuse_api
from prompt_rollback.ports import ArmsRead, PromptRef


class LangfuseArmReader:
    def __init__(self, api: Any, scores: ArmScores | None = None) -> None:
        self._api = api
        self._scores = scores or ArmScores()

    @classmethod
    def connect(
        cls, host: str, public_key: str, secret_key: str, timeout_seconds: float
    ) -> LangfuseArmReader:
        api = langfuse_api(
            host, public_key, secret_key, sdk_name="prompt-rollback-rollout", timeout_seconds=timeout_seconds
        )
        return cls(api)

    def read_arms(
        self, ref: PromptRef, candidate: int, stable: int, start: datetime, end: datetime
    ) -> ArmsRead:
        try:
            arms, calls = measure_arms(self._api, ref.name, (candidate, stable), start, end, self._scores)
        except MeasurementError as error:
            raise RegistryUnavailable(f"Langfuse metrics: {error}") from error
        return ArmsRead(canary=arms[candidate], stable=arms[stable], calls=calls)
