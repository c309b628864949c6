"""The audit ledger table's schema, defined once for the DynamoDB adapter, the CDK construct and
local mode. Plain constants, no imports: the CDK app and the webhook load this module for free."""

from __future__ import annotations

from typing import Final

PARTITION_KEY: Final = "prompt_key"  # "<provider>#<prompt name>": one hash chain per prompt
SORT_KEY: Final = "seq"  # 1, 2, 3 … within a prompt; PutItem with attribute_not_exists(seq)
BY_PROMPT_TIME_INDEX: Final = "by_prompt_time"  # the auditor's question: one prompt, a time window
INDEX_PARTITION_KEY: Final = "prompt_name"
INDEX_SORT_KEY: Final = "recorded_at"  # domain.audit.iso_utc: sortable as text
# Rollback id → prompt: a Slack click carries only the rollback id; the Slack actions function
# finds its prompt (for the queue group) here. Keys only (prompt_key, seq): nothing else leaks.
BY_REQUEST_ID_INDEX: Final = "by_request_id"
REQUEST_ID_KEY: Final = "request_id"

# (name, DynamoDB attribute type) of every key attribute of the table and its index.
KEY_ATTRIBUTES: Final = (
    (PARTITION_KEY, "S"),
    (SORT_KEY, "N"),
    (INDEX_PARTITION_KEY, "S"),
    (INDEX_SORT_KEY, "S"),
    (REQUEST_ID_KEY, "S"),
)

# The table's stream, read by the anchors function: new images to anchor, old ones to show what a
# MODIFY or REMOVE (never done by the application) overwrote.
STREAM_VIEW_TYPE: Final = "NEW_AND_OLD_IMAGES"

# DynamoDB refuses items over 400 KB. A record is bounded well below that (audit_record.py).
ITEM_SIZE_LIMIT_BYTES: Final = 400 * 1024
