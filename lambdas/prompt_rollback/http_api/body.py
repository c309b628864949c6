"""The request body as the sender's bytes: base64 undone when API Gateway applied it, and capped."""

from __future__ import annotations

import base64
import binascii

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from prompt_rollback.http_api.problems import Problem

# RFC 8259 forbids a sender to add one, and none of ours does. Refused with its name rather than
# stripped: what was signed is what is parsed, and a hand-made sender learns what to fix.
BYTE_ORDER_MARK = b"\xef\xbb\xbf"
# The stage has no payload compression, so API Gateway hands over a compressed body as it came.
IDENTITY_ENCODINGS = ("", "identity")


def raw_body(event: APIGatewayProxyEvent, max_bytes: int) -> bytes:
    """Bytes, not text: a signature is checked over exactly what was sent, before any decoding."""
    encoding = (event.headers.get("content-encoding") or "").strip().lower()
    if encoding not in IDENTITY_ENCODINGS:
        shown = encoding[:40] if encoding.isascii() and encoding.isprintable() else "(unprintable)"
        raise Problem(415, f"Content-Encoding {shown} is not supported: send the body uncompressed")
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


def json_body(event: APIGatewayProxyEvent, max_bytes: int) -> bytes:
    """`raw_body` for a JSON route: a leading byte-order mark is named, not reported as bad JSON."""
    raw = raw_body(event, max_bytes)
    if raw.startswith(BYTE_ORDER_MARK):
        raise Problem(400, "body starts with a byte-order mark: send JSON without one (RFC 8259)")
    return raw
