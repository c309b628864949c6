"""Untrusted text (labels, annotations, names) never reaches Slack able to mention, link or hide.

Slack acts on `<!channel>`, `<!here>`, `<@U…>`, `<#C…>`, `<!subteam^…>` and `<url|text>`, all of
which need a raw `<`; bare `@channel` only with link_names, which the escaper defuses anyway."""

from __future__ import annotations

import copy
import json
import re
import unicodedata
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from prompt_rollback.adapters.slack import build_message
from prompt_rollback.ports import RollbackNotice

from tests.integration.conftest import Stack
from tests.property.conftest import bounded
from tests.property.strategies import NASTY, untrusted_text

# A link the message builds itself from an http(s) URL: `<target|label>`, target percent-encoded.
OUR_LINK = re.compile(r"<https?://[^\s<>|]+\|[^<>|]*>")
BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
WORD_JOINER = "\u2060"  # what the escaper puts into @channel


def texts(message: dict) -> list[str]:
    found = [message["text"]]
    for block in message["blocks"]:
        if "text" in block:
            found.append(block["text"]["text"])
        found.extend(element["text"] for element in block.get("elements", []))
    return found


def assert_inert(text: str) -> None:
    # Inside a link only the label is shown (and parsed); the target is a percent-encoded URL.
    shown = OUR_LINK.sub(lambda link: link.group(0).split("|", 1)[1], text)
    outside_links = OUR_LINK.sub("", text)
    assert "<" not in outside_links and ">" not in outside_links, text
    assert not BROADCAST.search(shown), text
    hidden = [
        ch
        for ch in text
        if ch not in "\n\t" + WORD_JOINER and unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}
    ]
    assert hidden == [], (hidden, text)
    for target in re.findall(r"<([^|>]+)\|", text):
        assert target.startswith(("http://", "https://")), text


urls = st.one_of(
    untrusted_text,
    untrusted_text.map(lambda t: "https://grafana.example/d?x=" + t),
    untrusted_text.map(lambda t: "http://" + t),
    st.sampled_from(["javascript:alert(1)", "https://a.example/|<!channel>", "https://a.example/>x<@U1>"]),
)


@bounded(200, shared_stack=False)
@given(
    prompt=untrusted_text,
    alertname=untrusted_text,
    summary=untrusted_text,
    reason=untrusted_text,
    basis=untrusted_text,
    actor=untrusted_text,
    environment=untrusted_text,
    stage=untrusted_text,
    rollback_id=untrusted_text,
    provider=untrusted_text,
    target=untrusted_text,
    generator_url=urls,
    runbook_url=urls,
    outcome=st.sampled_from(["rolled_back", "dry_run", "skipped", "failed"]),
    versions=st.tuples(st.none() | st.integers(1, 99), st.none() | st.integers(1, 99)),
)
def test_untrusted_text_in_any_field_is_inert_in_the_slack_payload(
    prompt, alertname, summary, reason, basis, actor, environment, stage, rollback_id, provider, target,
    generator_url, runbook_url, outcome, versions,
):  # fmt: skip
    notice = RollbackNotice(
        rollback_id=rollback_id,
        outcome=outcome,
        prompt_name=prompt,
        provider=provider,
        from_version=versions[0],
        to_version=versions[1],
        reason=reason,
        basis=basis,
        actor=actor,
        mode="automatic",
        when=datetime(2026, 4, 17, 14, 3, tzinfo=UTC),
        stage=stage,
        environment=environment,
        alertname=alertname,
        summary=summary,
        generator_url=generator_url,
        runbook_url=runbook_url,
        target=target,
    )
    message = build_message(notice)
    json.dumps(message)  # serialisable as Slack gets it
    for text in texts(message):
        assert_inert(text)
    header = message["blocks"][0]["text"]["text"]
    assert header.startswith(":")  # our own title, never alert text


def test_nasty_labels_and_annotations_through_the_whole_flow_reach_slack_inert(stack: Stack, firing_body):
    nasty = " ".join(NASTY)
    body = copy.deepcopy(firing_body)
    alert = body["alerts"][0]
    alert["labels"].update(alertname=f"Regression {nasty}", env=f"prod {nasty}")
    alert["annotations"].update(
        summary=f"summary {nasty}",
        runbook_url="https://runbook.example/<!channel>|x>",
    )
    alert["generatorURL"] = "javascript:alert('<@U123>')"
    status, answer = stack.post(body)
    assert status == 202 and len(answer["accepted"]) == 1
    stack.drain()
    assert stack.decisions()[-1]["outcome"] == "rolled_back"
    [message] = stack.slack.messages
    for text in texts(message):
        assert_inert(text)
    sent = json.dumps(message, ensure_ascii=False)
    for mention in ("<!channel>", "<!here>", "<!everyone>", "<@U123>", "<#C123", "<!subteam"):
        assert mention not in sent
    assert "<javascript:" not in sent  # not an http(s) URL: no link made of it
