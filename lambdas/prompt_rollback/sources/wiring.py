"""Composition of the alert intake: the Bearer token (current and previous) and Grafana's signing."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from prompt_rollback import wiring
from prompt_rollback.domain.sources.grafana import GrafanaSigning
from prompt_rollback.errors import ConfigurationError
from prompt_rollback.settings import AlertAuthSettings


def webhook_token() -> str:
    """The Bearer token Alertmanager must present (cached, so a rotation takes effect within minutes).

    Stripped like the presented one: a secret written with a trailing newline still matches."""
    return wiring.secret(wiring.environment(AlertAuthSettings).webhook_token_secret_name).strip()


@dataclass
class _Remembered:
    value: str | None
    until: float


_previous_token: dict[str, _Remembered] = {}


def previous_webhook_token(clock: Callable[[], float] = time.monotonic) -> str | None:
    """The token before the last rotation (AWSPREVIOUS), so Alertmanagers still holding it keep
    working until their config is updated; None when the secret was never rotated.

    Remembered for SECRET_CACHE_SECONDS either way: Powertools caches values, not "there is no
    previous version", and a flood of wrong tokens must not become a flood of GetSecretValue calls.
    """
    name = wiring.environment(AlertAuthSettings).webhook_token_secret_name
    remembered = _previous_token.get(name)
    if remembered is not None and clock() < remembered.until:
        return remembered.value
    fetched = wiring.previous_secret(name, max_age=0)
    value = fetched.strip() if fetched else None
    _previous_token[name] = _Remembered(value, clock() + wiring.SECRET_CACHE_SECONDS)
    return value


def grafana_signing() -> GrafanaSigning | None:
    """Grafana's contact-point HMAC settings (docs/sources.md#grafana-alerting), or None when unset.

    GRAFANA_HMAC_SECRET_NAME names the secret; the two header names must match the contact point.
    """
    config = wiring.environment(AlertAuthSettings)
    if not config.grafana_hmac_secret_name:
        return None
    # Stripped like the webhook token: a secret written with a trailing newline still matches.
    secret = wiring.secret(config.grafana_hmac_secret_name).strip()
    if not secret:  # HMAC under an empty key is a signature anyone can compute
        raise ConfigurationError("GRAFANA_HMAC_SECRET_NAME", "names an empty secret")
    return GrafanaSigning(
        secret=secret,
        signature_header=config.grafana_signature_header,
        timestamp_header=config.grafana_timestamp_header,
    )


wiring.on_reset(_previous_token.clear)
