"""A Langfuse-compatible prompt store speaking the public API, for local mode and the integration tests,
following Langfuse's OpenAPI spec and server source; it also serves the metrics, datasets and experiment
items (langfuse_metrics.py, langfuse_experiments.py) and has fault switches (`fail_next`, `delay_next`)."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from wsgiref.types import StartResponse, WSGIEnvironment

from local_mode.langfuse_experiments import ExperimentStore, ListQueryError
from local_mode.langfuse_metrics import MetricsQueryError, MetricsStore
from local_mode.langfuse_webhooks import WebhookSender, js_iso
from local_mode.loopback import LoopbackServer

LABEL_PATTERN = re.compile(r"^[a-z0-9_\-.]+$")
RESERVED_LABEL = "latest"
API_PREFIX = ("api", "public", "v2", "prompts")
METRICS_V2 = ("api", "public", "v2", "metrics")
EXPERIMENT_ITEMS = ("api", "public", "experiment-items")
OBSERVATIONS_V2 = ("api", "public", "v2", "observations")
DATASETS_V2 = ("api", "public", "v2", "datasets")
MAX_PROMPT_PAGE = 100  # the server's limit for the prompts list (GetPromptsMetaSchema)


@dataclass
class StoredVersion:
    version: int
    prompt: str
    labels: list[str]
    config: Any = field(default_factory=dict)
    commit_message: str | None = None
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    updated_at: str = ""


@dataclass
class Fault:
    status: int
    retry_after: str | None
    methods: frozenset[str]
    path_prefix: str = "/"


# What a rollback relies on: HTTP Basic auth with the project keys, prompt names as one URL-encoded
# path segment (folders travel as %2F), ?version=/?label= lookups that 404 when nothing matches,
# paginated PromptMeta listing, a label PATCH that moves the label off every other version in one
# step, the reserved `latest` label, the label character set, and 201 on create.
class PromptStore:
    """The prompts, their versions and labels; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._prompts: dict[str, list[StoredVersion]] = {}
        self._tags: dict[str, list[str]] = {}
        # Told of every version whose labels changed, as Langfuse's automations are (webhooks).
        self.webhooks: WebhookSender | None = None

    def create(
        self,
        name: str,
        prompt: str,
        labels: Iterable[str] = (),
        config: Any = None,
        tags: Iterable[str] | None = None,
        commit_message: str | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            versions = self._prompts.setdefault(name, [])
            new_labels = [label for label in dict.fromkeys(labels) if label != RESERVED_LABEL]
            losers = self._take_labels(versions, new_labels, keep=None)
            number = max((v.version for v in versions), default=0) + 1  # a deleted number is not reused
            stored = StoredVersion(number, prompt, new_labels, config or {}, commit_message)
            versions.append(stored)
            if tags is not None:
                self._tags[name] = list(tags)
            rendered = self._render(name, stored)
            changed = [("created", stored), *(("updated", v) for v in losers)]
            notices = [(action, self._webhook_prompt(name, v)) for action, v in changed]
        self._notify(notices)
        return rendered

    def get(self, name: str, version: int | None = None, label: str | None = None) -> dict[str, Any] | None:
        with self._lock:
            versions = self._prompts.get(name, [])
            if version is not None:
                found = next((v for v in versions if v.version == version), None)
            else:
                wanted = label or "production"
                found = next((v for v in versions if wanted in self._labels(name, v)), None)
            return self._render(name, found) if found else None

    def set_labels(self, name: str, version: int, new_labels: list[str]) -> dict[str, Any] | None:
        with self._lock:
            versions = self._prompts.get(name, [])
            target = next((v for v in versions if v.version == version), None)
            if target is None:
                return None
            losers = self._take_labels(versions, new_labels, keep=target)
            target.labels = list(dict.fromkeys([*target.labels, *new_labels]))
            target.updated_at = datetime.now(UTC).isoformat()
            rendered = self._render(name, target)
            # One event for the version gaining the labels and one per version losing them.
            notices = [("updated", self._webhook_prompt(name, v)) for v in (target, *losers)]
        self._notify(notices)
        return rendered

    def delete(self, name: str, version: int | None = None, label: str | None = None) -> bool:
        """Delete the versions matching `version` and `label` (neither: all); False when none did."""
        with self._lock:
            versions = self._prompts.get(name, [])
            doomed = [
                v
                for v in versions
                if version in (None, v.version) and (label is None or label in self._labels(name, v))
            ]
            notices = [("deleted", self._webhook_prompt(name, v)) for v in doomed]
            self._prompts[name] = [v for v in versions if v not in doomed]
            if not self._prompts[name]:
                del self._prompts[name]
        self._notify(notices)
        return bool(doomed)

    @staticmethod
    def _take_labels(
        versions: list[StoredVersion], labels: list[str], keep: StoredVersion | None
    ) -> list[StoredVersion]:
        """Move `labels` off every version but `keep`; return the versions that lost one."""
        losers = []
        now = datetime.now(UTC).isoformat()
        for other in versions:
            if other is not keep and any(label in other.labels for label in labels):
                other.labels = [label for label in other.labels if label not in labels]
                other.updated_at = now
                losers.append(other)
        return losers

    def _webhook_prompt(self, name: str, stored: StoredVersion) -> dict[str, Any]:
        """The `prompt` object of a webhook (PromptWebhookOutboundSchema), keys in the server's order."""
        created = datetime.fromisoformat(stored.created_at)
        updated = datetime.fromisoformat(stored.updated_at or stored.created_at)
        return {
            "id": f"local-{name}-{stored.version}",
            "name": name,
            "version": stored.version,
            "projectId": "local-project",
            "labels": self._labels(name, stored),
            "prompt": stored.prompt,
            "type": "text",
            "config": stored.config,
            "commitMessage": stored.commit_message,
            "tags": list(self._tags.get(name, [])),
            "createdAt": js_iso(created),
            "updatedAt": js_iso(updated),
        }

    def _notify(self, notices: list[tuple[str, dict[str, Any]]]) -> None:
        if self.webhooks is None:
            return
        for action, prompt in notices:
            self.webhooks.prompt_version_changed(action, prompt, user=None)

    def list_meta(self, name: str | None, label: str | None) -> list[dict[str, Any]]:
        with self._lock:
            metas = []
            for prompt_name, versions in sorted(self._prompts.items()):
                if name is not None and prompt_name != name:
                    continue
                matching = [v for v in versions if label is None or label in self._labels(prompt_name, v)]
                if not matching:
                    continue
                metas.append(
                    {
                        "name": prompt_name,
                        "type": "text",
                        "versions": [v.version for v in matching],
                        "labels": sorted({lb for v in matching for lb in self._labels(prompt_name, v)}),
                        "tags": list(self._tags.get(prompt_name, [])),
                        "lastUpdatedAt": matching[-1].created_at,
                        "lastConfig": matching[-1].config,
                    }
                )
            return metas

    def production_version(self, name: str) -> int | None:
        found = self.get(name, label="production")
        return int(found["version"]) if found else None

    def _labels(self, name: str, stored: StoredVersion) -> list[str]:
        newest = self._prompts[name][-1] is stored
        return [*stored.labels, RESERVED_LABEL] if newest else list(stored.labels)

    def _render(self, name: str, stored: StoredVersion) -> dict[str, Any]:
        return {
            "type": "text",
            "name": name,
            "version": stored.version,
            "prompt": stored.prompt,
            "config": stored.config,
            "labels": self._labels(name, stored),
            "tags": list(self._tags.get(name, [])),
            "commitMessage": stored.commit_message,
            "resolutionGraph": None,
        }


class LangfuseCompatibleApp:
    """WSGI app over a PromptStore."""

    def __init__(
        self, store: PromptStore, public_key: str, secret_key: str, metrics: MetricsStore | None = None
    ) -> None:
        self.store = store
        self.metrics = metrics or MetricsStore()
        self.experiments = ExperimentStore(self.metrics)
        # False plays a self-hosted Langfuse before v4, which answers 404 there.
        self.metrics_v2_available = True
        self._credentials = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()
        self._faults: list[Fault] = []
        self._delays: list[float] = []
        self._faults_lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []  # (method, raw path) seen, for tests

    # ---- fault switches ------------------------------------------------------------------
    def fail_next(
        self,
        status: int,
        count: int = 1,
        retry_after: str | None = None,
        methods: Iterable[str] = ("GET", "PATCH", "POST"),
        path_prefix: str = "/",
    ) -> None:
        with self._faults_lock:
            self._faults.extend(
                Fault(status, retry_after, frozenset(methods), path_prefix) for _ in range(count)
            )

    def delay_next(self, seconds: float, count: int = 1) -> None:
        with self._faults_lock:
            self._delays.extend([seconds] * count)

    def clear_faults(self) -> None:
        with self._faults_lock:
            self._faults.clear()
            self._delays.clear()

    def _take_fault(self, method: str, path: str) -> tuple[Fault | None, float]:
        with self._faults_lock:
            delay = self._delays.pop(0) if self._delays else 0.0
            for index, fault in enumerate(self._faults):
                if method in fault.methods and path.startswith(fault.path_prefix):
                    return self._faults.pop(index), delay
            return None, delay

    # ---- WSGI ----------------------------------------------------------------------------
    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        raw_path = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")
        parts = urlsplit(raw_path)
        self.requests.append((method, parts.path))
        status, body, headers = self._dispatch(method, parts.path, parts.query, environ)
        payload = b"" if status == 204 else json.dumps(body).encode()
        start_response(
            f"{status} {_REASONS.get(status, 'Status')}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(payload))), *headers],
        )
        return [payload]

    def _dispatch(
        self, method: str, path: str, query: str, environ: WSGIEnvironment
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        fault, delay = self._take_fault(method, path)
        if delay:
            time.sleep(delay)
        if fault is not None:
            headers = [("Retry-After", fault.retry_after)] if fault.retry_after is not None else []
            return fault.status, {"message": "injected fault"}, headers
        if environ.get("HTTP_AUTHORIZATION", "") != f"Basic {self._credentials}":
            return 401, {"message": "Invalid credentials"}, []
        # Route on the raw path: a prompt name is exactly one segment, `/` inside it is `%2F`.
        segments = path.strip("/").split("/")
        if tuple(segments) == METRICS_V2:
            return self._metrics(method, query)
        if tuple(segments) in (EXPERIMENT_ITEMS, OBSERVATIONS_V2) or (
            tuple(segments[:4]) == DATASETS_V2 and len(segments) == 5
        ):
            return self._read_only(method, segments, query)
        if tuple(segments[:4]) != API_PREFIX:
            return 404, {"message": "Not found"}, []
        rest = segments[4:]
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        try:
            if not rest and method == "GET":
                return self._list(params)
            if not rest and method == "POST":
                return self._create(_json_body(environ))
            if len(rest) == 1 and method == "GET":
                return self._get(unquote(rest[0]), params)
            if len(rest) == 1 and method == "DELETE":
                return self._delete(unquote(rest[0]), params)
            if len(rest) == 3 and rest[1] == "versions" and method == "PATCH":
                return self._patch(unquote(rest[0]), rest[2], _json_body(environ))
        except _BadRequest as error:
            return 400, {"message": str(error)}, []
        if len(rest) in (1, 3):
            return 405, {"message": "Method not allowed"}, []
        return 404, {"message": "Not found"}, []

    def _metrics(self, method: str, query: str) -> tuple[int, Any, list[tuple[str, str]]]:
        if not self.metrics_v2_available:
            return 404, {"message": "Not found"}, []
        if method != "GET":
            return 405, {"message": "Method not allowed"}, []
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        try:
            return 200, {"data": self.metrics.query(params.get("query"))}, []
        except MetricsQueryError as error:
            return 400, {"message": str(error)}, []

    def _read_only(
        self, method: str, segments: list[str], query: str
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        if method != "GET":
            return 405, {"message": "Method not allowed"}, []
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        try:
            if tuple(segments) == EXPERIMENT_ITEMS:
                return 200, self.experiments.experiment_items(params), []
            if tuple(segments) == OBSERVATIONS_V2:
                return 200, self.experiments.observations(params), []
        except ListQueryError as error:
            return 400, {"message": str(error)}, []
        dataset = self.experiments.dataset(unquote(segments[4]))
        if dataset is None:
            return 404, {"message": f"Dataset not found: '{unquote(segments[4])}'"}, []
        return 200, dataset, []

    def _list(self, params: dict[str, str]) -> tuple[int, Any, list[tuple[str, str]]]:
        page = _int_param(params, "page", 1)
        limit = _int_param(params, "limit", 10)
        if limit > MAX_PROMPT_PAGE:
            raise _BadRequest(f"limit must be at most {MAX_PROMPT_PAGE}")
        metas = self.store.list_meta(params.get("name"), params.get("label"))
        window = metas[(page - 1) * limit : page * limit]
        total_pages = (len(metas) + limit - 1) // limit
        return (
            200,
            {
                "data": window,
                "meta": {"page": page, "limit": limit, "totalItems": len(metas), "totalPages": total_pages},
            },
            [],
        )

    def _get(self, name: str, params: dict[str, str]) -> tuple[int, Any, list[tuple[str, str]]]:
        if "version" in params and "label" in params:
            raise _BadRequest("Cannot specify both version and label")
        version = _int_param(params, "version", 0) or None
        found = self.store.get(name, version=version, label=params.get("label"))
        if found is None:
            return 404, {"message": f"Prompt not found: '{name}'"}, []
        return 200, found, []

    def _delete(self, name: str, params: dict[str, str]) -> tuple[int, Any, list[tuple[str, str]]]:
        version = _int_param(params, "version", 0) or None
        if not self.store.delete(name, version=version, label=params.get("label")):
            return 404, {"message": f"Prompt not found: '{name}'"}, []
        return 204, None, []

    def _patch(self, name: str, raw_version: str, body: Any) -> tuple[int, Any, list[tuple[str, str]]]:
        if not raw_version.isdigit():
            raise _BadRequest("version must be an integer")
        labels = body.get("newLabels") if isinstance(body, dict) else None
        if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
            raise _BadRequest("newLabels must be an array of strings")
        if RESERVED_LABEL in labels:
            raise _BadRequest("Label 'latest' is always assigned to the latest prompt version")
        bad = [label for label in labels if not LABEL_PATTERN.match(label)]
        if bad:
            raise _BadRequest(f"Invalid labels: {bad}")
        updated = self.store.set_labels(name, int(raw_version), labels)
        if updated is None:
            return 404, {"message": "Prompt version not found"}, []
        return 200, updated, []

    def _create(self, body: Any) -> tuple[int, Any, list[tuple[str, str]]]:
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("name"), str)
            or not isinstance(body.get("prompt"), str)
        ):
            raise _BadRequest("name and prompt (text) are required")
        labels = body.get("labels") or []
        if RESERVED_LABEL in labels or not all(LABEL_PATTERN.match(label) for label in labels):
            raise _BadRequest("Invalid labels")
        created = self.store.create(
            body["name"],
            body["prompt"],
            labels,
            body.get("config"),
            body.get("tags"),
            body.get("commitMessage"),
        )
        return 201, created, []


class _BadRequest(Exception):
    pass


_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _int_param(params: dict[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise _BadRequest(f"{name} must be a positive integer")
    return int(raw)


def _json_body(environ: WSGIEnvironment) -> Any:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    try:
        return json.loads(raw or b"null")
    except ValueError as error:
        raise _BadRequest("body is not valid JSON") from error


class LangfuseCompatibleServer:
    """The app on a loopback port, in a background thread."""

    def __init__(
        self,
        public_key: str = "pk-lf-local",
        secret_key: str = "sk-lf-local",  # noqa: S107 - the embedded store's documented local key
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.public_key = public_key
        self.secret_key = secret_key
        self.store = PromptStore()
        self.metrics = MetricsStore()
        self.app = LangfuseCompatibleApp(self.store, public_key, secret_key, self.metrics)
        self.experiments = self.app.experiments
        self._http = LoopbackServer(self.app, host, port, name="langfuse-compatible")

    @property
    def url(self) -> str:
        return f"http://{self._http.host}:{self._http.port}"

    def start(self) -> LangfuseCompatibleServer:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def __enter__(self) -> LangfuseCompatibleServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def seed_demo_prompt(store: PromptStore, name: str = "support-answer") -> None:
    """The demo prompt of local mode: v7 is in production, v6 was before it."""
    texts = [
        "Answer the customer's question: {{question}}",
        "Answer the customer's question politely: {{question}}",
        "Answer politely and cite the help-centre article: {{question}}",
        "Answer politely, cite the article, keep it under 120 words: {{question}}",
        "Answer politely, cite the article, under 120 words, in the customer's language: {{question}}",
        "Answer politely, cite the article, under 120 words, customer's language, no guesses: {{question}}",
        "Be brief. {{question}}",
    ]
    for version, text in enumerate(texts, start=1):
        store.create(name, text, labels=["production"], commit_message=f"demo v{version}")
