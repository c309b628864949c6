"""The secrets. Their values never appear in the template: Secrets Manager generates them, and an
operator replaces the Langfuse, Langfuse webhook and Slack ones after the first deploy
(docs/deploy.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import DeploymentConfig
from infra.nag import acknowledge

ROTATION_REASON = (
    "Not rotatable by Secrets Manager: {what} is issued by a third party (or pasted into "
    "Alertmanager's credentials_file), so no rotation Lambda can create a new value; it is "
    "replaced by hand with put-secret-value (docs/deploy.md) and read with a 5-minute cache."
)


@dataclass(frozen=True)
class AppSecret:
    """A secret and what a role needs to read it."""

    secret: secretsmanager.ISecret
    name: str
    # For a secret imported by name the full ARN (with its random suffix) is unknown.
    policy_resource_arn: str

    def read_statement(self, sid: str) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            sid=sid, actions=["secretsmanager:GetSecretValue"], resources=[self.policy_resource_arn]
        )


def random_text(length: int) -> secretsmanager.SecretStringGenerator:
    """A placeholder of letters and digits: safe in a header, a URL or a shell."""
    return secretsmanager.SecretStringGenerator(password_length=length, exclude_punctuation=True)


def generated_secret(
    scope: Construct,
    construct_id: str,
    *,
    name: str,
    description: str,
    generator: secretsmanager.SecretStringGenerator,
    key: kms.IKey,
    what: str,
) -> AppSecret:
    """A secret Secrets Manager generates, encrypted with `key`; `what` says why it is not rotated."""
    secret = secretsmanager.Secret(
        scope,
        construct_id,
        secret_name=name,
        description=description,
        generate_secret_string=generator,
        encryption_key=key,
    )
    acknowledge(secret, "AwsSolutions-SMG4", ROTATION_REASON.format(what=what))
    return AppSecret(secret=secret, name=name, policy_resource_arn=secret.secret_arn)


class AppSecrets(Construct):
    """Random placeholders until an operator stores the real values. A placeholder Slack bot token is
    not an `xoxb-` token, so the worker keeps using the incoming webhook; a placeholder signing
    secret makes POST /slack/actions answer 401 (docs/slack-app.md); a placeholder PagerDuty
    routing key is not 32 characters long, so nothing is paged."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, key: kms.IKey
    ) -> None:
        super().__init__(scope, construct_id)
        self._prefix = f"prompt-rollback/{config.stage}"
        self._key = key
        self.webhook_token = self._generated(
            "WebhookToken",
            "webhook-token",
            "Bearer token Alertmanager presents on POST /alerts (generated; copy it to Alertmanager).",
            random_text(64),
            what="the token is shared with Alertmanager's configuration",
        )
        self.langfuse = self._generated(
            "Langfuse",
            "langfuse",
            'Langfuse API keys as JSON {"host", "public_key", "secret_key"}; set after deploy.',
            # Only the non-secret host is in the template; secret_key starts as a random value and
            # public_key is absent, so the worker reports "not configured" until an operator sets both.
            secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"host": config.langfuse_host}),
                generate_string_key="secret_key",
                exclude_punctuation=True,
                password_length=48,
            ),
            what="the Langfuse API key pair is issued by Langfuse",
            existing_name=config.langfuse_secret_name,
        )
        self.langfuse_webhook = self._generated(
            "LangfuseWebhookSecret",
            "langfuse-webhook-secret",
            "Signing secret of the Langfuse webhook (lf-whsec_..., shown once when the automation is "
            "created); set after deploy. Until then every POST /langfuse/events is refused with 401.",
            random_text(48),
            what="the webhook signing secret is issued by Langfuse",
        )
        self.slack_webhook_url = self._generated(
            "SlackWebhookUrl",
            "slack-webhook-url",
            "Slack incoming-webhook URL (https://hooks.slack.com/...); set after deploy.",
            random_text(32),
            what="the incoming-webhook URL is issued by Slack",
            existing_name=config.slack_webhook_secret_name,
        )
        self.slack_bot_token = self._generated(
            "SlackBotToken",
            "slack-bot-token",
            "Slack app bot token (xoxb-...): one message per incident; set after deploy.",
            random_text(32),
            what="the bot token is issued by Slack",
        )
        self.pagerduty_routing_key = self._generated(
            "PagerDutyRoutingKey",
            "pagerduty-routing-key",
            "PagerDuty Events API v2 routing (integration) key, 32 characters; set after deploy. "
            "Until then nothing is paged and nothing fails.",
            # Shorter than any routing key, so the worker knows it for a placeholder.
            random_text(20),
            what="the routing key is issued by PagerDuty",
        )
        self.slack_signing_secret = self._generated(
            "SlackSigningSecret",
            "slack-signing-secret",
            "Slack app signing secret: verifies POST /slack/actions; set after deploy.",
            random_text(32),
            what="the signing secret is issued by Slack",
        )

    def _generated(
        self,
        construct_id: str,
        name: str,
        description: str,
        generator: secretsmanager.SecretStringGenerator,
        *,
        what: str,
        existing_name: str | None = None,
    ) -> AppSecret:
        """A generated secret, or with `existing_name` the operator's own secret of that name."""
        if existing_name is not None:
            secret = secretsmanager.Secret.from_secret_name_v2(self, construct_id, existing_name)
            # Secrets Manager appends "-" and six random characters to every secret ARN.
            return AppSecret(
                secret=secret, name=existing_name, policy_resource_arn=f"{secret.secret_arn}-??????"
            )
        return generated_secret(
            self,
            construct_id,
            name=f"{self._prefix}/{name}",
            description=description,
            generator=generator,
            key=self._key,
            what=what,
        )
