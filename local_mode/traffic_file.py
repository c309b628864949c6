"""The traffic file of `python -m local_mode --traffic FILE` (or `demo`): each prompt's request rate, its
units and each version's true behaviour. Validated when loaded; every error names its field."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from prompt_rollback.domain.prompt_names import prompt_name_problem
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

DEMO = "demo"
DEMO_FILE = Path(__file__).resolve().parents[1] / "examples" / "rollout" / "traffic-demo.yaml"
# With --step-seconds a second carries this many seconds of requests, unless the file says `speed:`.
FAST_SPEED = 60.0


class TrafficError(Exception):
    """A traffic file local mode cannot use; the message names the field (local mode exits 2)."""


def _prompt_name(value: str) -> str:
    problem = prompt_name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


PromptName = Annotated[str, AfterValidator(_prompt_name)]
Version = Annotated[int, Field(ge=1, le=1_000_000)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VersionBehaviour(_Frozen):
    """How one version truly behaves: the simulator draws each request's outcome from it."""

    exact_match: float = Field(ge=0, le=1)
    error_rate: float = Field(ge=0, le=1)
    latency_ms: float = Field(gt=0, le=600_000)
    # The version's text: local mode creates the version (POST /api/public/v2/prompts) when missing.
    prompt: str | None = Field(default=None, min_length=1, max_length=20_000)


class PromptTraffic(_Frozen):
    requests_per_second: float = Field(gt=0, le=10_000)
    units: int = Field(ge=1, le=10_000_000)  # distinct unit ids (users), drawn at random per request
    versions: dict[Version, VersionBehaviour] = Field(min_length=1, max_length=50)


class TrafficFile(_Frozen):
    prompts: dict[PromptName, PromptTraffic] = Field(min_length=1, max_length=20)
    # Seconds of traffic per real second (default: 1, or 60 with --step-seconds).
    speed: float | None = Field(default=None, gt=0, le=1000)
    seed: int | None = None  # the draws' seed, for a run that can be repeated

    def speed_for(self, step_seconds: float | None) -> float:
        if self.speed is not None:
            return self.speed
        return FAST_SPEED if step_seconds else 1.0


def _field(location: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in location if part != "[key]")


def load_traffic(source: str) -> TrafficFile:
    """The file at `source` (`demo`: the built-in demo), validated; TrafficError says what is wrong."""
    import yaml  # type: ignore[import-untyped]

    path = DEMO_FILE if source == DEMO else Path(source)
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise TrafficError(f"{path}: cannot read it: {error.strerror or error}") from error
    except yaml.YAMLError as error:
        raise TrafficError(f"{path}: not YAML: {error}") from error
    if not isinstance(loaded, dict):
        raise TrafficError(f"{path}: a traffic file is a mapping with `prompts`")
    try:
        return TrafficFile.model_validate(loaded)
    except ValidationError as error:
        problems = [
            f"  {_field(e['loc']) or '(top)'}: {e['msg']}"
            for e in error.errors(include_url=False, include_input=False)
        ]
        raise TrafficError(f"{path}: invalid traffic file\n" + "\n".join(problems)) from error
