"""deploy/amp/alertmanager.yaml rendered by Alertmanager's own template engine, read by our parser.

AMP runs Alertmanager's Go templates; `amtool template render` (Debian's
prometheus-alertmanager, 0.25) runs the same engine over template data we choose, so these
tests check the real escaping of hostile label and annotation values, not our idea of it.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prompt_rollback.domain.intake import triage
from prompt_rollback.domain.sources.amp_sns import convert_amp_message

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DEFINITION = REPO_ROOT / "deploy" / "amp" / "alertmanager.yaml"
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "sources"

# Values a team's annotations really hold, and worse.
HOSTILE_VALUES = [
    'He said "stop"',
    "line one\nline two\r\nline three",
    "C:\\path\\to\\file and a trailing backslash \\",
    "tab\there, bell\a, escape \x1b[31mred\x1b[0m, vertical\vtab, nul-free",
    "unicode: é ß 漢字 🚨 and U+2028\u2028 U+FEFF\ufeff",
    'template-looking {{ .Labels.alertname }} and json-looking {"a": [1, 2]}',
    "<!channel> <script>alert(1)</script> & ' `",
    "",
]


def amtool() -> str:
    path = shutil.which("amtool")
    if path is not None:
        return path
    message = "amtool not found; `apt-get install -y --no-install-recommends prometheus-alertmanager`"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def definition() -> dict[str, Any]:
    return yaml.safe_load(DEFINITION.read_text())


def render(tmp_path: Path, template_text: str, data: dict[str, Any]) -> str:
    template = tmp_path / "template.tmpl"
    template.write_text(template_text)
    data_file = tmp_path / "data.json"
    data_file.write_text(json.dumps(data))
    result = subprocess.run(
        [
            amtool(),
            "template",
            "render",
            f"--template.glob={template}",
            '--template.text={{ template "sns.default.message" . }}',
            f"--template.data={data_file}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def template_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "amp-template-data.json").read_text())
    return data


def test_alert_manager_config_part_is_valid_for_alertmanager(tmp_path: Path) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text(definition()["alertmanager_config"])
    result = subprocess.run(
        [amtool(), "check-config", str(config)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    receivers = yaml.safe_load(definition()["alertmanager_config"])["receivers"]
    [sns] = [r["sns_configs"][0] for r in receivers if r["name"] == "prompt-rollback"]
    assert sns["topic_arn"].endswith(":prompt-rollback-dev-amp-alerts")
    assert sns["sigv4"]["region"]


def test_every_hostile_value_survives_the_template_exactly(tmp_path: Path) -> None:
    data = template_data()
    first = data["alerts"][0]
    data["alerts"] = []
    for index, value in enumerate(HOSTILE_VALUES):
        alert = copy.deepcopy(first)
        alert["fingerprint"] = f"{index:016x}"
        alert["labels"]["prompt_version"] = str(index + 1)
        alert["labels"]["team"] = value
        alert["annotations"] = {"summary": value, "description": value[::-1]}
        alert["generatorURL"] = "https://prometheus.example.com/graph?g0.expr=" + value
        data["alerts"].append(alert)
    message = render(tmp_path, definition()["template_files"]["default_template"], data)
    converted = convert_amp_message(message, {}, "rendered")
    assert converted.skipped == []
    assert converted.body is not None
    for value, alert in zip(HOSTILE_VALUES, converted.body.alerts, strict=True):
        assert alert.annotations["summary"] == value
        assert alert.annotations["description"] == value[::-1]
        assert alert.labels["team"] == value
        assert alert.generator_url.endswith(value)


def test_rendered_message_is_triaged_like_the_webhook_body(tmp_path: Path) -> None:
    message = render(tmp_path, definition()["template_files"]["default_template"], template_data())
    converted = convert_amp_message(message, {}, "rendered")
    assert converted.body is not None
    assert converted.body.external_url.endswith("/alertmanager")
    assert converted.body.group_labels == {
        "alertname": "PromptErrorRateHigh",
        "prompt_name": "support-answer",
    }
    [request] = triage(converted.body, received_at=converted.body.alerts[0].starts_at).accepted
    assert (request.prompt_name, request.alerted_version) == ("support-answer", 7)


def test_the_checked_in_fixture_is_what_the_template_renders(tmp_path: Path) -> None:
    message = render(tmp_path, definition()["template_files"]["default_template"], template_data())
    fixture = json.loads((FIXTURES / "amp-json-template.sns.json").read_text())
    assert fixture["Records"][0]["Sns"]["Message"] == message


def test_awss_documented_template_breaks_on_a_quote_and_is_skipped_with_a_pointer(tmp_path: Path) -> None:
    data = template_data()
    message = render(tmp_path, (FIXTURES / "aws-documented-json.tmpl").read_text(), data)
    converted = convert_amp_message(message, {}, "rendered")
    assert converted.body is None
    assert "deploy/amp/alertmanager.yaml" in converted.skipped[0].reason


def test_default_text_format_is_recognised(tmp_path: Path) -> None:
    message = render(tmp_path, (FIXTURES / "amp-default-text.tmpl").read_text(), template_data())
    [skipped] = convert_amp_message(message, {}, "rendered").skipped
    assert "default text format" in skipped.reason
