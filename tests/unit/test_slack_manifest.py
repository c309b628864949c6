"""deploy/slack/manifest.yaml asks for the bot scopes the code needs and nothing more: every Slack Web
API method the adapters call is covered by a scope in it, and every scope in it covers a call."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml
from slack_sdk import WebClient

REPO_ROOT = Path(__file__).resolve().parents[2]
MANIFEST = REPO_ROOT / "deploy" / "slack" / "manifest.yaml"
ADAPTERS = REPO_ROOT / "lambdas" / "prompt_rollback" / "adapters"

# Web API method -> the bot scopes that let a bot token call it (any one of them), from each
# method's page in Slack's reference: https://api.slack.com/methods/chat.postMessage,
# …/chat.update, …/chat.postEphemeral (chat:write); …/conversations.history (channels:history for
# a public channel, groups:history for a private one; im:/mpim:history are for direct messages,
# where we never post); …/usergroups.users.list (usergroups:read).
REQUIRED_SCOPES: dict[str, frozenset[str]] = {
    "chat.postMessage": frozenset({"chat:write"}),
    "chat.update": frozenset({"chat:write"}),
    "chat.postEphemeral": frozenset({"chat:write"}),
    "conversations.history": frozenset({"channels:history", "groups:history"}),
    "usergroups.users.list": frozenset({"usergroups:read"}),
}


def _manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


def web_api_calls(source: str) -> set[str]:
    """The Web API methods a module calls through slack_sdk's WebClient (`self._client.chat_update(`)."""
    called = set()
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name = node.func.attr
        if not name.startswith("_") and "_" in name and callable(getattr(WebClient, name, None)):
            called.add(name.replace("_", "."))
    return called


def _calls_in_code() -> set[str]:
    called: set[str] = set()
    for module in ADAPTERS.glob("*.py"):
        text = module.read_text()
        if "slack_sdk" in text:
            called |= web_api_calls(text)
    return called


def test_the_scan_finds_the_calls_the_app_notifier_makes():
    assert _calls_in_code() >= {"chat.postMessage", "chat.update", "chat.postEphemeral"}


def test_every_method_the_code_calls_is_covered_by_a_scope_in_the_manifest():
    scopes = set(_manifest()["oauth_config"]["scopes"]["bot"])
    called = _calls_in_code()
    unknown = called - REQUIRED_SCOPES.keys()
    assert not unknown, f"add the scope of {sorted(unknown)} to REQUIRED_SCOPES and the manifest"
    uncovered = {method for method in called if not REQUIRED_SCOPES[method] & scopes}
    assert not uncovered, f"no scope in the manifest lets the bot call {sorted(uncovered)}"


def test_no_scope_in_the_manifest_is_unused():
    scopes = set(_manifest()["oauth_config"]["scopes"]["bot"])
    used = set().union(*(REQUIRED_SCOPES[method] for method in _calls_in_code()))
    assert scopes <= used, f"scopes no call needs: {sorted(scopes - used)}"


def test_a_new_call_without_its_scope_is_caught():
    source = "def f(self):\n    self._client.reactions_add(channel='C', name='x', timestamp='1')\n"
    assert web_api_calls(source) == {"reactions.add"}
    assert "reactions.add" not in REQUIRED_SCOPES  # so the coverage test above would fail on it


def test_interactivity_points_at_a_placeholder_the_docs_say_to_replace():
    manifest = _manifest()
    interactivity = manifest["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True
    assert interactivity["request_url"].startswith("https://replace-with-the-stack-output-SlackActionsUrl")
    assert interactivity["request_url"].endswith("/slack/actions")
    assert manifest["features"]["bot_user"]["display_name"]
    assert manifest["display_information"]["name"]
    docs = (REPO_ROOT / "docs" / "slack-app.md").read_text()
    assert "deploy/slack/manifest.yaml" in docs and "SlackActionsUrl" in docs
