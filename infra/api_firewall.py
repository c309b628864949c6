"""The opt-in WAF web ACL of the API (context key `waf_enabled`): a per-IP rate rule, and with
`alerts_allowed_cidrs` an allow-list for POST /alerts, so junk from elsewhere cannot use up its quota."""

from __future__ import annotations

from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.config import DeploymentConfig


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def _block(
    name: str, priority: int, statement: wafv2.CfnWebACL.StatementProperty
) -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        action=wafv2.CfnWebACL.RuleActionProperty(block={}),
        statement=statement,
        visibility_config=_visibility(name),
    )


class ApiFirewall(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, stage: apigateway.Stage
    ) -> None:
        super().__init__(scope, construct_id)
        rules = [
            _block(
                "RatePerIp",
                0,
                wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        aggregate_key_type="IP", limit=config.waf_rate_limit_per_ip
                    )
                ),
            )
        ]
        if config.alerts_allowed_cidrs:
            rules.append(_block("AlertsFromAllowedAddressesOnly", 1, self._outside_allow_list(config)))
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            description=f"prompt-rollback {config.stage}: per-IP rate limit, /alerts allow-list",
            visibility_config=_visibility(f"prompt-rollback-{config.stage}-api"),
            rules=rules,
        )
        wafv2.CfnWebACLAssociation(
            self, "Association", resource_arn=stage.stage_arn, web_acl_arn=self.web_acl.attr_arn
        )

    def _outside_allow_list(self, config: DeploymentConfig) -> wafv2.CfnWebACL.StatementProperty:
        allowed = wafv2.CfnIPSet(
            self,
            "AlertsAllowList",
            scope="REGIONAL",
            ip_address_version="IPV4",
            addresses=[str(network) for network in config.alerts_allowed_cidrs],
            description="Addresses that may call POST /alerts, such as the egress of Alertmanager",
        )
        # A REST API's path at WAF includes the stage: /<stage>/alerts.
        alerts_path = wafv2.CfnWebACL.StatementProperty(
            byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
                positional_constraint="STARTS_WITH",
                search_string=f"/{config.stage}/alerts",
                text_transformations=[
                    wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NORMALIZE_PATH")
                ],
            )
        )
        from_allowed = wafv2.CfnWebACL.StatementProperty(
            ip_set_reference_statement=wafv2.CfnWebACL.IPSetReferenceStatementProperty(arn=allowed.attr_arn)
        )
        return wafv2.CfnWebACL.StatementProperty(
            and_statement=wafv2.CfnWebACL.AndStatementProperty(
                statements=[
                    alerts_path,
                    wafv2.CfnWebACL.StatementProperty(
                        not_statement=wafv2.CfnWebACL.NotStatementProperty(statement=from_allowed)
                    ),
                ]
            )
        )
