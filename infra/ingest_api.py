"""POST /alerts: the REST API Alertmanager calls and the webhook function behind it."""

from __future__ import annotations

import json

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.api_firewall import ApiFirewall
from infra.config import DeploymentConfig
from infra.functions import Asset, FunctionSpec
from infra.nag import acknowledge, acknowledge_handler_authorization
from infra.permissions import decrypt_secrets
from infra.platform import Platform, RollbackQueue

WEBHOOK = FunctionSpec(
    handler="prompt_rollback.sources.webhook_handler.lambda_handler",
    description="prompt-rollback webhook: authenticates Alertmanager and queues rollback requests",
    timeout=Duration.seconds(10),
    asset=Asset.WEBHOOK,
)
ALERTS_PATH = "alerts"
LANGFUSE_EVENTS_PATH = "langfuse/events"

# Only what every Alertmanager webhook body carries; unknown keys are allowed, because newer
# Alertmanager versions add fields (notification_reason in 0.32, routeLabels in 0.34).
ALERTMANAGER_BODY_SCHEMA = apigateway.JsonSchema(
    schema=apigateway.JsonSchemaVersion.DRAFT4,
    title="AlertmanagerWebhook",
    type=apigateway.JsonSchemaType.OBJECT,
    required=["version", "alerts"],
    properties={
        "version": apigateway.JsonSchema(type=apigateway.JsonSchemaType.STRING),
        "alerts": apigateway.JsonSchema(
            type=apigateway.JsonSchemaType.ARRAY,
            items=apigateway.JsonSchema(type=apigateway.JsonSchemaType.OBJECT),
        ),
    },
)

# One JSON object per request; no headers or bodies (the Bearer token must never reach a log).
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "extendedRequestId": "$context.extendedRequestId",
        "requestTime": "$context.requestTime",
        "ip": "$context.identity.sourceIp",
        "userAgent": "$context.identity.userAgent",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "responseLatency": "$context.responseLatency",
        "integrationStatus": "$context.integration.status",
        "integrationLatency": "$context.integration.latency",
        "errorMessage": "$context.error.message",
        "validationError": "$context.error.validationErrorString",
        "xrayTraceId": "$context.xrayTraceId",
    }
)

AUTHORIZATION_REASON = (
    "Authorization is in the handler: Alertmanager sends one static Bearer token, which the webhook "
    "compares in constant time with a Secrets Manager secret. A Lambda TOKEN authorizer would do the "
    "same comparison at the cost of a second cold start and cached-policy complexity; Cognito does "
    "not fit a machine caller with a static token. API Gateway still rejects requests without an "
    "Authorization header before invoking the function."
)


class IngestApi(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, platform: Platform, rollback_queue: RollbackQueue
    ) -> None:
        super().__init__(scope, construct_id)
        config = platform.config
        token_secret = platform.secrets.webhook_token
        self.function = platform.functions.create(
            self,
            "Webhook",
            WEBHOOK,
            {"WEBHOOK_TOKEN_SECRET_NAME": token_secret.name, **rollback_queue.environment},
        )
        self.function.allow(
            token_secret.read_statement("ReadWebhookToken"),
            decrypt_secrets(platform.app_key),
            *rollback_queue.send_statements(),
        )
        self.access_log_group = logs.LogGroup(
            self, "AccessLogs", retention=config.log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.api = self._rest_api(config)
        self.validator = apigateway.RequestValidator(
            self,
            "Validator",
            rest_api=self.api,
            validate_request_body=True,
            validate_request_parameters=True,
        )
        self.alerts_method = self._alerts_route()
        # Same {"error": ...} shape as the handler's own 4xx answers. The detailed validation
        # message is in the access log: it is not JSON-escaped, so it cannot go into this body.
        for response_type in (
            apigateway.ResponseType.BAD_REQUEST_BODY,
            apigateway.ResponseType.BAD_REQUEST_PARAMETERS,
        ):
            self.api.add_gateway_response(
                f"{response_type.response_type}Response",
                type=response_type,
                templates={"application/json": '{"error": $context.error.messageString}'},
            )
        if config.create_api_gateway_cloudwatch_role:
            self._manage_account_logging_role()

    def _rest_api(self, config: DeploymentConfig) -> apigateway.RestApi:
        api = apigateway.RestApi(
            self,
            "Api",
            rest_api_name=f"prompt-rollback-{config.stage}",
            description="Alertmanager webhook receiver of prompt-rollback",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # The account-level logging role is managed below (no AWS managed policy).
            cloud_watch_role=False,
            deploy_options=apigateway.StageOptions(
                stage_name=config.stage,
                throttling_rate_limit=config.api_throttle_rate_limit,
                throttling_burst_limit=config.api_throttle_burst_limit,
                tracing_enabled=True,
                # Execution logs for errors only; never request/response bodies.
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                access_log_destination=apigateway.LogGroupLogDestination(self.access_log_group),
                access_log_format=apigateway.AccessLogFormat.custom(ACCESS_LOG_FORMAT),
                # Each route its own bucket: junk on one cannot use up another's quota.
                method_options={
                    f"/{path}/POST": apigateway.MethodDeploymentOptions(
                        throttling_rate_limit=throttle.rate_limit, throttling_burst_limit=throttle.burst_limit
                    )
                    for path, throttle in config.route_throttles.items()
                },
            ),
        )
        if config.waf_enabled:
            ApiFirewall(self, "Firewall", config=config, stage=api.deployment_stage)
        else:
            acknowledge(
                api.deployment_stage,
                "AwsSolutions-APIG3",
                "No WAF web ACL by default (waf_enabled turns one on, about 6 USD a month): every route "
                "authenticates its caller (Bearer token, HMAC signatures) and each route has its own "
                "throttle, so junk on one route cannot use up the quota of /alerts.",
            )
        return api

    def _alerts_route(self) -> apigateway.Method:
        alertmanager_body = self.api.add_model(
            "AlertmanagerWebhookModel",
            content_type="application/json",
            model_name="AlertmanagerWebhook",
            schema=ALERTMANAGER_BODY_SCHEMA,
        )
        method = self.api.root.add_resource(ALERTS_PATH).add_method(
            "POST",
            apigateway.LambdaIntegration(self.function.function, allow_test_invoke=False),
            authorization_type=apigateway.AuthorizationType.NONE,
            request_validator=self.validator,
            request_models={"application/json": alertmanager_body},
            request_parameters={"method.request.header.Authorization": True},
        )
        acknowledge_handler_authorization(method, AUTHORIZATION_REASON)
        return method

    def add_langfuse_events_route(self, function: lambda_.IFunction) -> apigateway.Method:
        """POST /langfuse/events -> the change recorder. No body model: the handler checks
        Langfuse's signature on the raw bytes before anything parses them."""
        resource = self.api.root.add_resource("langfuse").add_resource("events")
        method = resource.add_method(
            "POST",
            apigateway.LambdaIntegration(function, allow_test_invoke=False),
            authorization_type=apigateway.AuthorizationType.NONE,
            request_validator=self.validator,
            request_parameters={"method.request.header.x-langfuse-signature": True},
        )
        reason = (
            "Authorization is in the handler: Langfuse signs each webhook with HMAC-SHA256 "
            "(x-langfuse-signature), verified in constant time against a Secrets Manager secret "
            "before the body is parsed; API Gateway rejects requests without the header."
        )
        acknowledge_handler_authorization(method, reason)
        return method

    def _manage_account_logging_role(self) -> None:
        """API Gateway writes execution and access logs with one role per account and region.

        CDK's own `cloud_watch_role=True` attaches the AWS managed policy; this is the same
        permission as an inline policy. It replaces whatever role the region had: the policy
        must therefore serve every REST API in the region, not only this one.
        """
        role = iam.Role(
            self,
            "ApiGatewayLoggingRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="API Gateway account setting: write REST API execution and access logs",
            inline_policies={
                "PushToCloudWatchLogs": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            actions=[
                                "logs:CreateLogGroup",
                                "logs:CreateLogStream",
                                "logs:DescribeLogGroups",
                                "logs:DescribeLogStreams",
                                "logs:PutLogEvents",
                                "logs:GetLogEvents",
                                "logs:FilterLogEvents",
                            ],
                            resources=[f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"],
                        )
                    ]
                )
            },
        )
        # Other APIs in the account may depend on the setting: keep the role when this stack goes.
        role.apply_removal_policy(RemovalPolicy.RETAIN)
        account = apigateway.CfnAccount(self, "ApiGatewayAccount", cloud_watch_role_arn=role.role_arn)
        # A stage with logging cannot be created before the account has the role.
        self.api.deployment_stage.node.add_dependency(account)
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:*]",
            "Account-wide API Gateway logging role: it is shared by every REST API in this account and "
            "region, whose log group names are not known here (execution logs go to "
            "API-Gateway-Execution-Logs_<api-id>/<stage>). Same scope as the AWS managed policy "
            "AmazonAPIGatewayPushToCloudWatchLogs, kept inline to avoid managed policies.",
        )
