"""The TypeScript rule in docs/rollout.md, run by node against the shared vectors.
Node cannot run TypeScript itself (before 22.6), so the test erases the doc's type annotations:
the block keeps to parameter and return annotations and one `type` line, which is what it erases."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.rollout.vectors import ASSIGNMENTS, SHARES, VECTORS_PATH

DOC = Path(__file__).resolve().parents[2] / "docs" / "rollout.md"
SECTION = "## Following the split from TypeScript/Node"
TYPES = r"(?:string|number|boolean|Arm)(?:\[\])?"

HARNESS = """
import { readFileSync } from "node:fs";
const vectors = JSON.parse(readFileSync(process.argv[2], "utf8"));
const arms = vectors.assignments.map((v) => unitArm(v.prompt, v.version, v.unit, v.share));
const shares = vectors.shares.map((v) => candidateShare(v.labels, v.candidate_label ?? "canary"));
console.log(JSON.stringify({ arms, shares }));
"""


def typescript_block() -> str:
    section = DOC.read_text(encoding="utf-8").split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```typescript\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1, "the section holds one typescript block"
    return blocks[0]


def erase_types(code: str) -> str:
    code = re.sub(r"^export type .*;$", "", code, flags=re.MULTILINE)
    code = re.sub(rf"\)\s*:\s*{TYPES}\s*\{{", ") {", code)  # return types
    return re.sub(rf"(\w)\s*:\s*{TYPES}(?=\s*[,)=])", r"\1", code)  # parameter types


def test_erasing_types_leaves_plain_javascript():
    erased = erase_types(typescript_block())
    assert "unitArm(prompt, candidateVersion, unit, share) {" in erased
    assert 'candidateShare(labels, candidateLabel = "canary") {' in erased
    assert not re.search(rf":\s*{TYPES}\b", erased)
    assert "export type" not in erased


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed here (CI installs nodejs)")
def test_the_documented_typescript_follows_the_vectors(tmp_path):
    script = tmp_path / "rule.mjs"
    script.write_text(erase_types(typescript_block()) + HARNESS, encoding="utf-8")
    ran = subprocess.run(
        ["node", str(script), str(VECTORS_PATH)], capture_output=True, text=True, timeout=60, check=False
    )
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["arms"] == [vector["arm"] for vector in ASSIGNMENTS]
    assert result["shares"] == [vector["share"] for vector in SHARES]
