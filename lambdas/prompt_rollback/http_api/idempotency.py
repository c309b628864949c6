"""Powertools idempotency, set up one way: a DynamoDB record per key, and a repeat marked `replayed`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from prompt_rollback import wiring
from prompt_rollback.settings import IdempotencySettings

T = TypeVar("T")


@dataclass(frozen=True)
class AnsweredOnce(Generic[T]):
    """`run` answers each key once; a repeat gets the first answer plus `"replayed": True`.

    `config` takes the Lambda context (`register_lambda_context`) so an in-progress record
    expires with the invocation that wrote it."""

    config: IdempotencyConfig
    run: Callable[[T], dict[str, Any]]


def _mark_replayed(response: Any, idempotent_data: Any) -> Any:
    """A repeat answered from the idempotency record: nothing was decided now."""
    return {**response, "replayed": True}


def answered_once(
    work: Callable[[T], dict[str, Any]],
    *,
    name: str,
    key: str,
    expires_after_seconds: int,
    payload_validation: str | None = None,
) -> AnsweredOnce[T]:
    """`work` behind an idempotency record in IDEMPOTENCY_TABLE_NAME, keyed on the `key` path of its argument.

    `name` prefixes the stored keys, so moving the code does not forget what was answered. With
    `payload_validation`, a repeated key with other such fields is refused (IdempotencyValidationError).
    """
    table_name = wiring.environment(IdempotencySettings).idempotency_table_name
    # Given a client on the shared session: one of its own would load the AWS data again (wiring.py).
    persistence = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=wiring.aws_client("dynamodb"))
    config = IdempotencyConfig(
        event_key_jmespath=key,
        payload_validation_jmespath=payload_validation or "",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=expires_after_seconds,
        response_hook=_mark_replayed,
    )

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="data", persistence_store=persistence, config=config, key_prefix=name
    )
    def run(*, data: Any) -> dict[str, Any]:
        return work(data)

    return AnsweredOnce(config, lambda data: dict(run(data=data)))
