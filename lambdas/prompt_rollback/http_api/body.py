"""The request body as the sender's bytes: base64 undone when API Gateway applied it, and capped."""

from __future__ import annotations

import base64
import binascii

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from prompt_rollback.http_api.problems import Problem


def raw_body(event: APIGatewayProxyEvent, max_bytes: int) -> bytes:
    """Bytes, not text: a signature is checked over exactly what was sent, before any decoding."""
    body = event.body or ""
    try:
        raw = base64.b64decode(body, validate=True) if event.is_base64_encoded else body.encode()
    except (binascii.Error, ValueError) as error:
        raise Problem(400, "body is not valid base64") from error
    if len(raw) > max_bytes:
        raise Problem(413, f"body larger than {max_bytes} bytes")
    return raw


def media_type(event: APIGatewayProxyEvent) -> str:
    """The Content-Type without its parameters (`; charset=utf-8`), lower-cased."""
    return (event.headers.get("content-type") or "").split(";")[0].strip().lower()
