"""What the synthesized template promises an operator or an auditor."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk.assertions import Match
from prompt_rollback.deadline import FAILURE_RESERVE_SECONDS, HEALTHY_RECORD_SECONDS, RECORD_SECONDS

from infra.audit_ledger import AUDIT_INDEX_NAME, REQUEST_ID_INDEX_NAME
from infra.rollback_worker import MAX_RECEIVE_COUNT
from tests.infra.conftest import Synthesized

# Every way to change or remove an existing ledger item, or to write one without PutItem's condition.
LEDGER_FORBIDDEN_ACTIONS = {
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
    "dynamodb:PartiQLInsert",
    "dynamodb:DeleteTable",
    "dynamodb:UpdateTable",
    "dynamodb:*",
    "*",
}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements_of_role(synthesized: Synthesized, role_logical_id: str) -> list[dict[str, Any]]:
    """Inline statements of a role and of every AWS::IAM::Policy attached to it."""
    role = synthesized.json["Resources"][role_logical_id]
    statements = [
        statement
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    for policy in synthesized.resources("AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} in policy["Properties"].get("Roles", []):
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def mentions(value: Any, logical_id: str) -> bool:
    return logical_id in json.dumps(value)


def role_of(synthesized: Synthesized, function: Any) -> str:
    function_id = synthesized.logical_id(function)
    role_arn = synthesized.json["Resources"][function_id]["Properties"]["Role"]
    return str(role_arn["Fn::GetAtt"][0])


# --- audit ledger -------------------------------------------------------------------------------


def test_audit_table_matches_the_contract_and_is_kept(synthesized: Synthesized) -> None:
    table_id = synthesized.logical_id(synthesized.stack.ledger.table)
    table = synthesized.json["Resources"][table_id]
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    properties = table["Properties"]
    assert properties["KeySchema"] == [
        {"AttributeName": "prompt_key", "KeyType": "HASH"},
        {"AttributeName": "seq", "KeyType": "RANGE"},
    ]
    assert {"AttributeName": "seq", "AttributeType": "N"} in properties["AttributeDefinitions"]
    assert properties["GlobalSecondaryIndexes"] == [
        {
            "IndexName": AUDIT_INDEX_NAME,
            "KeySchema": [
                {"AttributeName": "prompt_name", "KeyType": "HASH"},
                {"AttributeName": "recorded_at", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
        {  # a Slack click's rollback id → its prompt (keys only)
            "IndexName": REQUEST_ID_INDEX_NAME,
            "KeySchema": [
                {"AttributeName": "request_id", "KeyType": "HASH"},
                {"AttributeName": "seq", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        },
    ]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["DeletionProtectionEnabled"] is True
    key_id = synthesized.logical_id(synthesized.stack.ledger.key)
    assert properties["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]},
    }
    key = synthesized.json["Resources"][key_id]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"


def test_worker_may_append_to_the_ledger_but_never_change_it(synthesized: Synthesized) -> None:
    table_id = synthesized.logical_id(synthesized.stack.ledger.table)
    worker_role = role_of(synthesized, synthesized.stack.worker.function.function)
    on_table = [s for s in statements_of_role(synthesized, worker_role) if mentions(s["Resource"], table_id)]
    granted = {action for s in on_table if s["Effect"] == "Allow" for action in as_list(s["Action"])}
    assert granted == {"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query"}
    index_statement = next(s for s in on_table if f"/index/{AUDIT_INDEX_NAME}" in json.dumps(s["Resource"]))
    assert as_list(index_statement["Action"]) == ["dynamodb:Query"]
    # A request's own records are found by its id (a re-delivery gets its decision back).
    assert f"/index/{REQUEST_ID_INDEX_NAME}" in json.dumps(index_statement["Resource"])


def test_no_role_in_the_stack_can_change_ledger_items(synthesized: Synthesized) -> None:
    table_id = synthesized.logical_id(synthesized.stack.ledger.table)
    for role_id in synthesized.resources("AWS::IAM::Role"):
        for statement in statements_of_role(synthesized, role_id):
            if statement["Effect"] == "Allow" and mentions(statement["Resource"], table_id):
                assert not LEDGER_FORBIDDEN_ACTIONS & set(as_list(statement["Action"])), (role_id, statement)


def test_idempotency_table_uses_powertools_defaults(synthesized: Synthesized) -> None:
    synthesized.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
        },
    )


# --- CloudTrail ---------------------------------------------------------------------------------


def test_trail_bucket_is_locked_for_seven_years(synthesized: Synthesized) -> None:
    bucket_id = synthesized.logical_id(synthesized.stack.trail.bucket)
    bucket = synthesized.json["Resources"][bucket_id]
    assert bucket["DeletionPolicy"] == "Retain"
    properties = bucket["Properties"]
    assert properties["ObjectLockEnabled"] is True
    assert properties["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 2557}},
    }
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    encryption = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    access_logs_id = synthesized.logical_id(synthesized.stack.trail.access_logs_bucket)
    assert properties["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": access_logs_id}


def test_trail_records_ledger_writes_and_invocations_but_not_management_events_by_default(
    synthesized: Synthesized,
) -> None:
    _, trail = synthesized.only("AWS::CloudTrail::Trail")
    properties = trail["Properties"]
    assert "EventSelectors" not in properties  # a trail cannot mix basic and advanced selectors
    assert properties["EnableLogFileValidation"] is True
    assert properties["IsLogging"] is True
    trail_key_id = synthesized.logical_id(synthesized.stack.trail.key)
    assert properties["KMSKeyId"] == {"Fn::GetAtt": [trail_key_id, "Arn"]}

    selectors = {
        json.dumps(
            sorted((field["Field"], json.dumps(field["Equals"])) for field in selector["FieldSelectors"])
        )
        for selector in properties["AdvancedEventSelectors"]
    }
    table_arn = {"Fn::GetAtt": [synthesized.logical_id(synthesized.stack.ledger.table), "Arn"]}
    function_arns = [
        {"Fn::GetAtt": [synthesized.logical_id(function), "Arn"]}
        for function in (
            synthesized.stack.ingest.function.function,
            synthesized.stack.worker.function.function,
            synthesized.stack.changes.langfuse_events.function,
            synthesized.stack.changes.cloudtrail_changes.function,
            synthesized.stack.slack_actions.function.function,
            synthesized.stack.anchors.function.function,
        )
    ]

    def selector(*fields: tuple[str, list[Any]]) -> str:
        return json.dumps(sorted((name, json.dumps(values)) for name, values in fields))

    # Billed as a second copy where an organisation trail records them: opt in with the context key.
    assert selector(("eventCategory", ["Management"])) not in selectors
    assert (
        selector(
            ("eventCategory", ["Data"]),
            ("resources.type", ["AWS::DynamoDB::Table"]),
            ("resources.ARN", [table_arn]),
        )
        in selectors
    )
    assert (
        selector(
            ("eventCategory", ["Data"]),
            ("resources.type", ["AWS::Lambda::Function"]),
            ("resources.ARN", function_arns),
        )
        in selectors
    )


def test_cloudtrail_may_use_the_trail_key(synthesized: Synthesized) -> None:
    key = synthesized.json["Resources"][synthesized.logical_id(synthesized.stack.trail.key)]
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    cloudtrail_actions = {
        action
        for statement in statements
        if statement.get("Principal") == {"Service": "cloudtrail.amazonaws.com"}
        for action in as_list(statement["Action"])
    }
    assert {"kms:GenerateDataKey*", "kms:DescribeKey"} <= cloudtrail_actions


# --- queue and worker ---------------------------------------------------------------------------


def test_rollback_queue_is_fifo_with_a_fifo_dead_letter_queue(synthesized: Synthesized) -> None:
    queue_id = synthesized.logical_id(synthesized.stack.worker.queue)
    dlq_id = synthesized.logical_id(synthesized.stack.worker.dead_letter_queue)
    queue = synthesized.json["Resources"][queue_id]["Properties"]
    dlq = synthesized.json["Resources"][dlq_id]["Properties"]
    for properties in (queue, dlq):
        assert properties["FifoQueue"] is True
        assert "KmsMasterKeyId" in properties
    # EventBridge Scheduler's recovery checks need it on a FIFO target; explicit ids still win.
    assert queue["ContentBasedDeduplication"] is True
    assert dlq["ContentBasedDeduplication"] is False
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": 5,
    }
    worker_id = synthesized.logical_id(synthesized.stack.worker.function.function)
    worker_timeout = synthesized.json["Resources"][worker_id]["Properties"]["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * worker_timeout


def test_every_queue_refuses_plain_http(synthesized: Synthesized) -> None:
    guarded = set()
    for policy in synthesized.resources("AWS::SQS::QueuePolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement["Condition"] == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                guarded.add(statement["Resource"]["Fn::GetAtt"][0])
    assert guarded == {
        synthesized.logical_id(synthesized.stack.worker.queue),
        synthesized.logical_id(synthesized.stack.worker.dead_letter_queue),
        synthesized.logical_id(synthesized.stack.sources.dead_letter_queue),
        synthesized.logical_id(synthesized.stack.changes.dead_letter_queue),
        synthesized.logical_id(synthesized.stack.recovery_checks.dead_letter_queue),
        synthesized.logical_id(synthesized.stack.anchors.dead_letter_queue),
    }


def test_worker_reads_the_queue_in_batches_with_partial_failures(synthesized: Synthesized) -> None:
    worker_id = synthesized.logical_id(synthesized.stack.worker.function.function)
    [properties] = [
        mapping["Properties"]
        for mapping in synthesized.resources("AWS::Lambda::EventSourceMapping").values()
        if mapping["Properties"]["FunctionName"] == {"Ref": worker_id}
    ]
    assert properties["BatchSize"] == 5  # one slow record and four healthy ones fit the timeout
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["EventSourceArn"] == {
        "Fn::GetAtt": [synthesized.logical_id(synthesized.stack.worker.queue), "Arn"]
    }
    assert properties["ScalingConfig"] == {"MaximumConcurrency": 5}


def test_a_batch_with_one_record_at_its_deadline_fits_the_worker_timeout(synthesized: Synthesized) -> None:
    worker_id = synthesized.logical_id(synthesized.stack.worker.function.function)
    [batch] = [
        mapping["Properties"]["BatchSize"]
        for mapping in synthesized.resources("AWS::Lambda::EventSourceMapping").values()
        if mapping["Properties"]["FunctionName"] == {"Ref": worker_id}
    ]
    timeout = synthesized.json["Resources"][worker_id]["Properties"]["Timeout"]
    one_slow = RECORD_SECONDS + FAILURE_RESERVE_SECONDS + (batch - 1) * HEALTHY_RECORD_SECONDS
    assert one_slow <= 0.8 * timeout  # 48 s of 60 s (infra/rollback_worker.py has the arithmetic)


def test_worker_environment_follows_the_contract(synthesized: Synthesized) -> None:
    worker_id = synthesized.logical_id(synthesized.stack.worker.function.function)
    variables = synthesized.json["Resources"][worker_id]["Properties"]["Environment"]["Variables"]
    assert variables["MAX_RECEIVE_COUNT"] == str(MAX_RECEIVE_COUNT) == "5"
    assert variables["STAGE"] == "dev"
    assert variables["SLACK_CHANNEL"] == "#llm-ops"
    assert variables["POWERTOOLS_SERVICE_NAME"] == "prompt-rollback"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "PromptRollback"
    assert variables["AUDIT_TABLE_NAME"] == {"Ref": synthesized.logical_id(synthesized.stack.ledger.table)}
    assert variables["IDEMPOTENCY_TABLE_NAME"] == {
        "Ref": synthesized.logical_id(synthesized.stack.worker.idempotency_table)
    }
    assert variables["LANGFUSE_SECRET_NAME"] == "prompt-rollback/dev/langfuse"
    assert variables["SLACK_WEBHOOK_SECRET_NAME"] == "prompt-rollback/dev/slack-webhook-url"
    assert json.loads(variables["ROLLBACK_POLICY"]) == {
        "dry_run": True,
        "allowed_prompts": ["*"],
        "cooldown_minutes": 30,
        "max_rollbacks_per_day": 3,
        "prompts": {},
        # people in the loop (the Slack app): the defaults
        "mode": "auto",
        "approvers": [],
        "approval_expiry_minutes": 60,
        "recovery_minutes": 30,
        "max_rollback_steps": 1,
        # the rollback plan's recovery rule for version-scoped rollbacks: errors < 1 % for 5 min
        "recovery_error_rate_below": 0.01,
        "recovery_error_minutes": 5,
    }


def test_webhook_environment_and_permissions(synthesized: Synthesized) -> None:
    webhook = synthesized.stack.ingest.function.function
    variables = synthesized.json["Resources"][synthesized.logical_id(webhook)]["Properties"]["Environment"][
        "Variables"
    ]
    queue_id = synthesized.logical_id(synthesized.stack.worker.queue)
    assert variables["WEBHOOK_TOKEN_SECRET_NAME"] == "prompt-rollback/dev/webhook-token"
    assert variables["ROLLBACK_QUEUE_URL"] == {"Ref": queue_id}
    assert variables["STAGE"] == "dev"

    statements = statements_of_role(synthesized, role_of(synthesized, webhook))
    actions = {action for s in statements for action in as_list(s["Action"])}
    assert not any(action.startswith("dynamodb:") for action in actions)
    (send,) = [s for s in statements if "sqs:SendMessage" in as_list(s["Action"])]
    assert send["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    (read_token,) = [s for s in statements if "secretsmanager:GetSecretValue" in as_list(s["Action"])]
    assert read_token["Resource"] == {
        "Ref": synthesized.logical_id(synthesized.stack.secrets.webhook_token.secret)
    }


@pytest.mark.parametrize(
    ("function_attr", "handler", "timeout", "memory"),
    [
        ("worker", "prompt_rollback.worker.handler.lambda_handler", 60, 512),
        ("ingest", "prompt_rollback.sources.webhook_handler.lambda_handler", 10, 256),
    ],
)
def test_functions_run_traced_on_arm64_with_the_newest_python(
    synthesized: Synthesized, function_attr: str, handler: str, timeout: int, memory: int
) -> None:
    app_function = getattr(synthesized.stack, function_attr).function
    properties = synthesized.json["Resources"][synthesized.logical_id(app_function.function)]["Properties"]
    assert properties["Runtime"] == "python3.14"
    assert properties["Architectures"] == ["arm64"]
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert properties["Handler"] == handler
    assert properties["Timeout"] == timeout
    assert properties["MemorySize"] == memory
    log_group_id = synthesized.logical_id(app_function.log_group)
    assert properties["LoggingConfig"] == {"LogGroup": {"Ref": log_group_id}}
    assert synthesized.json["Resources"][log_group_id]["Properties"]["RetentionInDays"] == 90


def test_no_managed_policies_and_wildcards_only_where_aws_requires_them(synthesized: Synthesized) -> None:
    for role in synthesized.resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]
    wildcard_actions: set[str] = set()
    for role_id in synthesized.resources("AWS::IAM::Role"):
        for statement in statements_of_role(synthesized, role_id):
            if statement["Resource"] == "*":
                wildcard_actions.update(as_list(statement["Action"]))
    # dynamodb:ListStreams: the anchors function's stream event source.
    assert wildcard_actions == {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "dynamodb:ListStreams"}


# --- secrets ------------------------------------------------------------------------------------


def test_no_secret_value_is_in_the_template(synthesized: Synthesized) -> None:
    secrets = synthesized.resources("AWS::SecretsManager::Secret")
    # webhook token, Langfuse keys, Langfuse webhook signing secret, Slack URL, Slack bot token,
    # Slack signing secret, PagerDuty routing key
    assert len(secrets) == 7
    for secret in secrets.values():
        assert "SecretString" not in secret["Properties"]
        assert "GenerateSecretString" in secret["Properties"]
        assert "KmsKeyId" in secret["Properties"]
    text = json.dumps(synthesized.json)
    assert "hooks.slack.com/services" not in text
    assert not re.search(r"\b(sk|pk)-lf-[0-9a-f-]{8,}", text)
    for function_id in synthesized.resources("AWS::Lambda::Function"):
        variables = synthesized.json["Resources"][function_id]["Properties"]["Environment"]["Variables"]
        assert not {"LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "SLACK_WEBHOOK_URL"} & set(variables)


# --- API ----------------------------------------------------------------------------------------


def test_post_alerts_goes_to_the_webhook_through_a_validator(synthesized: Synthesized) -> None:
    method = synthesized.json["Resources"][synthesized.logical_id(synthesized.stack.ingest.alerts_method)]
    resource = synthesized.json["Resources"][method["Properties"]["ResourceId"]["Ref"]]
    assert resource["Properties"]["PathPart"] == "alerts"
    properties = method["Properties"]
    assert properties["HttpMethod"] == "POST"
    assert properties["AuthorizationType"] == "NONE"  # the Bearer token is checked in the handler
    assert properties["RequestParameters"] == {"method.request.header.Authorization": True}
    assert properties["Integration"]["Type"] == "AWS_PROXY"
    webhook_id = synthesized.logical_id(synthesized.stack.ingest.function.function)
    assert mentions(properties["Integration"]["Uri"], webhook_id)
    validator_id = synthesized.logical_id(synthesized.stack.ingest.validator)
    validator = synthesized.json["Resources"][validator_id]
    assert properties["RequestValidatorId"] == {"Ref": validator_id}
    assert validator["Properties"]["ValidateRequestBody"] is True
    assert validator["Properties"]["ValidateRequestParameters"] is True
    model_id, model = synthesized.only("AWS::ApiGateway::Model")
    assert properties["RequestModels"] == {"application/json": {"Ref": model_id}}
    schema = model["Properties"]["Schema"]
    assert schema["required"] == ["version", "alerts"]
    assert "additionalProperties" not in schema  # newer Alertmanager versions add keys


def test_stage_is_throttled_traced_and_access_logged_as_json(synthesized: Synthesized) -> None:
    _, stage = synthesized.only("AWS::ApiGateway::Stage")
    properties = stage["Properties"]
    assert properties["StageName"] == "dev"
    assert properties["TracingEnabled"] is True
    # The stage's defaults; each route has its own throttle too (test_failure_paths.py).
    [settings] = [s for s in properties["MethodSettings"] if s["ResourcePath"] == "/*"]
    assert settings["ThrottlingRateLimit"] == 10
    assert settings["ThrottlingBurstLimit"] == 20
    assert settings["LoggingLevel"] == "ERROR"
    assert settings["DataTraceEnabled"] is False
    access_log_format = json.loads(properties["AccessLogSetting"]["Format"])
    assert access_log_format["requestId"] == "$context.requestId"
    access_log_group_id = synthesized.logical_id(synthesized.stack.ingest.access_log_group)
    assert mentions(properties["AccessLogSetting"]["DestinationArn"], access_log_group_id)
    account_id, _ = synthesized.only("AWS::ApiGateway::Account")
    assert account_id in stage.get("DependsOn", [])


def test_body_model_accepts_real_alertmanager_bodies(
    synthesized: Synthesized, firing_body: dict[str, Any], resolved_body: dict[str, Any]
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    _, model = synthesized.only("AWS::ApiGateway::Model")
    schema = model["Properties"]["Schema"]
    jsonschema.Draft4Validator.check_schema(schema)
    jsonschema.validate(firing_body, schema)
    jsonschema.validate(resolved_body, schema)
    jsonschema.validate({**firing_body, "routeLabels": {"team": "llm"}, "notification_reason": "x"}, schema)
    broken_bodies: list[Any] = [{"version": "4"}, {"alerts": []}, {"version": "4", "alerts": {}}, []]
    for broken in broken_bodies:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)


# --- monitoring ---------------------------------------------------------------------------------


def test_alarms_notify_the_alarm_topic(synthesized: Synthesized) -> None:
    topic_id = synthesized.logical_id(synthesized.stack.monitoring.topic)
    alarms = synthesized.resources("AWS::CloudWatch::Alarm")
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    watched = {(a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in alarms.values()}
    assert {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/Lambda", "Errors"),
        ("PromptRollback", "RollbacksFailed"),
        ("PromptRollback", "SlackFailures"),  # a placeholder Slack secret counts here too
    } <= watched
    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "PromptRollback",
            "MetricName": "RollbacksFailed",
            "Dimensions": [{"Name": "service", "Value": "prompt-rollback"}],
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        },
    )
    dlq_id = synthesized.logical_id(synthesized.stack.worker.dead_letter_queue)
    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}],
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        },
    )


def test_alarm_topic_is_encrypted_and_ssl_only(synthesized: Synthesized) -> None:
    topic_id = synthesized.logical_id(synthesized.stack.monitoring.topic)
    topic = synthesized.json["Resources"][topic_id]["Properties"]
    assert "KmsMasterKeyId" in topic
    synthesized.template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [{"Ref": topic_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        )
                    ]
                )
            },
        },
    )
    # No alarm_email in cdk.json: no subscription (the AMP alert topic's is the alert-events function).
    subscribed = [
        s["Properties"]["TopicArn"] for s in synthesized.resources("AWS::SNS::Subscription").values()
    ]
    assert {"Ref": topic_id} not in subscribed


def test_dashboard_shows_the_rollback_flow(synthesized: Synthesized) -> None:
    _, dashboard = synthesized.only("AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in (
        "AlertsReceived",
        "AlertsAccepted",
        "AlertsSkipped",
        "RollbacksDone",
        "RollbacksSkipped",
        "RollbacksFailed",
        "RollbacksDryRun",
        "AlertToRollbackSeconds",
        "Duration",
        "ApproximateNumberOfMessagesVisible",
    ):
        assert f'\\"{metric}\\"' in body, metric
    assert "p50" in body
    assert "p99" in body
