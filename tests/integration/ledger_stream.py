"""The audit ledger's DynamoDB stream (moto) as Lambda hands it to the anchors function."""

from __future__ import annotations

from typing import Any

import boto3
from prompt_rollback.anchors import handler as anchors

from local_mode.lambda_runtime import LocalLambdaContext


def stream_event(table_name: str) -> dict[str, Any]:
    """Every record of the table's stream so far, oldest first, in one event."""
    arn = boto3.client("dynamodb").describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams")
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator)
            if not page["Records"]:
                break
            for record in page["Records"]:
                dynamodb = {**record["dynamodb"]}
                dynamodb["ApproximateCreationDateTime"] = dynamodb["ApproximateCreationDateTime"].timestamp()
                records.append({**record, "dynamodb": dynamodb, "eventSourceARN": arn})
            iterator = page.get("NextShardIterator")
    return {"Records": records}


def run_anchors(table_name: str) -> dict[str, Any]:
    """The anchors function over the whole stream (anchoring the same head again is a no-op)."""
    return dict(anchors.lambda_handler(stream_event(table_name), LocalLambdaContext("anchors")))
