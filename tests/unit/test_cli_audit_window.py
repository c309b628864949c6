"""`audit` with a window that ends before it starts is a mistake to point out, not an empty answer."""

from __future__ import annotations

import pytest
from prompt_rollback import cli


def test_since_after_until_exits_2_naming_both(capsys: pytest.CaptureFixture[str], monkeypatch):
    monkeypatch.delenv("AUDIT_TABLE_NAME", raising=False)
    window = ["--since", "2026-04-18T00:00Z", "--until", "2026-04-17T00:00Z"]
    assert cli.main(["audit", "--prompt", "financial-analysis", *window, "--table", "audit"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "--since 2026-04-18T00:00:00Z is not before --until 2026-04-17T00:00:00Z" in err
