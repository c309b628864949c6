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


class AppSecrets(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, key: kms.IKey
    ) -> None:
        super().__init__(scope, construct_id)
        prefix = f"prompt-rollback/{config.stage}"
        self.webhook_token = self._generated(
            "WebhookToken",
            name=f"{prefix}/webhook-token",
            description=(
                "Bearer token Alertmanager presents on POST /alerts (generated; copy it to Alertmanager)."
            ),
            generator=secretsmanager.SecretStringGenerator(password_length=64, exclude_punctuation=True),
            key=key,
            what="the token is shared with Alertmanager's configuration",
        )
        self.langfuse = self._existing_or_generated(
            "Langfuse",
            existing_name=config.langfuse_secret_name,
            name=f"{prefix}/langfuse",
            description='Langfuse API keys as JSON {"host", "public_key", "secret_key"}; set after deploy.',
            # Only the non-secret host is in the template; secret_key starts as a random value and
            # public_key is absent, so the worker reports "not configured" until an operator sets both.
            generator=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"host": config.langfuse_host}),
                generate_string_key="secret_key",
                exclude_punctuation=True,
                password_length=48,
            ),
            key=key,
            what="the Langfuse API key pair is issued by Langfuse",
        )
        self.langfuse_webhook = self._generated(
            "LangfuseWebhookSecret",
            name=f"{prefix}/langfuse-webhook-secret",
            description=(
                "Signing secret of the Langfuse webhook (lf-whsec_..., shown once when the automation is "
                "created); set after deploy. Until then every POST /langfuse/events is refused with 401."
            ),
            generator=secretsmanager.SecretStringGenerator(password_length=48, exclude_punctuation=True),
            key=key,
            what="the webhook signing secret is issued by Langfuse",
        )
        self.slack_webhook_url = self._existing_or_generated(
            "SlackWebhookUrl",
            existing_name=config.slack_webhook_secret_name,
            name=f"{prefix}/slack-webhook-url",
            description="Slack incoming-webhook URL (https://hooks.slack.com/...); set after deploy.",
            generator=secretsmanager.SecretStringGenerator(password_length=32, exclude_punctuation=True),
            key=key,
            what="the incoming-webhook URL is issued by Slack",
        )

        # Slack app mode (docs/slack-app.md): random placeholders until an operator stores the app's
        # values; a placeholder bot token is not an `xoxb-` token, so the worker keeps using the
        # incoming webhook, and a placeholder signing secret makes POST /slack/actions answer 401.
        self.slack_bot_token = self._generated(
            "SlackBotToken",
            name=f"{prefix}/slack-bot-token",
            description="Slack app bot token (xoxb-...): one message per incident; set after deploy.",
            generator=secretsmanager.SecretStringGenerator(password_length=32, exclude_punctuation=True),
            key=key,
            what="the bot token is issued by Slack",
        )
        self.slack_signing_secret = self._generated(
            "SlackSigningSecret",
            name=f"{prefix}/slack-signing-secret",
            description="Slack app signing secret: verifies POST /slack/actions; set after deploy.",
            generator=secretsmanager.SecretStringGenerator(password_length=32, exclude_punctuation=True),
            key=key,
            what="the signing secret is issued by Slack",
        )

    def _generated(
        self,
        construct_id: str,
        *,
        name: str,
        description: str,
        generator: secretsmanager.SecretStringGenerator,
        key: kms.IKey,
        what: str,
    ) -> AppSecret:
        secret = secretsmanager.Secret(
            self,
            construct_id,
            secret_name=name,
            description=description,
            generate_secret_string=generator,
            encryption_key=key,
        )
        acknowledge(secret, "AwsSolutions-SMG4", ROTATION_REASON.format(what=what))
        return AppSecret(secret=secret, name=name, policy_resource_arn=secret.secret_arn)

    def _existing_or_generated(
        self,
        construct_id: str,
        *,
        existing_name: str | None,
        name: str,
        description: str,
        generator: secretsmanager.SecretStringGenerator,
        key: kms.IKey,
        what: str,
    ) -> AppSecret:
        if existing_name is None:
            return self._generated(
                construct_id, name=name, description=description, generator=generator, key=key, what=what
            )
        secret = secretsmanager.Secret.from_secret_name_v2(self, construct_id, existing_name)
        # Secrets Manager appends "-" and six random characters to every secret ARN.
        return AppSecret(secret=secret, name=existing_name, policy_resource_arn=f"{secret.secret_arn}-??????")
