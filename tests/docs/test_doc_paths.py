"""Every path the README and docs/ name exists: relative links (resolved from the file) and
repository paths in backticks (resolved from the root), so a move or a rename breaks the suite."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\s]+)`")
FILE = re.compile(r"\.(md|py|ya?ml|jsonl?|txt|lock|toml|sh)$")
# Backticked words that are repository paths: under a top-level directory, or a root file.
TOP_LEVEL = {p.name for p in REPO.iterdir() if not p.name.startswith(".")} - {"node_modules", "cdk.out"}
# Paths that exist only after a command has run, or on another machine: named as such in the text.
# The docs name the Lambda code's modules from its package, e.g. `worker/handler.py`.
ROOTS = (REPO, REPO / "lambdas", REPO / "lambdas" / "prompt_rollback")
ELSEWHERE = ("cdk.out", ".venv", "/tmp/", "out.json", "node_modules")


def _repository_path(word: str) -> str | None:
    word = word.rstrip(".,:;")
    if any(marker in word for marker in ELSEWHERE) or "*" in word or "…" in word or "<" in word:
        return None
    head = word.split("/", 1)[0]
    if "/" in word and head in TOP_LEVEL:
        return word.split("#", 1)[0].split(":", 1)[0]
    if "/" not in word and word in TOP_LEVEL:
        return word
    if "/" in word and not word.startswith(("/", "~", "$")) and FILE.search(word):
        return word  # a file under a directory the repository should have (e.g. shared/…)
    return None


def _missing(document: Path) -> list[str]:
    text = document.read_text()
    missing = []
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:", "#")):
            continue
        path = target.split("#", 1)[0]
        if path and not (document.parent / path).exists():
            missing.append(f"link {target}")
    for word in CODE.findall(text):
        path = _repository_path(word)
        if path and not any((root / path).exists() for root in ROOTS):
            missing.append(f"path {word}")
    return missing


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_path_a_document_names_exists(document: Path):
    assert _missing(document) == []


def test_the_check_sees_a_missing_path(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text("see [gone](nowhere.md) and `docs/not-there.md` and [here](page.md)")
    assert _missing(page) == ["link nowhere.md", "path docs/not-there.md"]


def test_the_deploy_guide_lists_every_infra_module():
    listed = (REPO / "docs" / "deploy.md").read_text()
    modules = sorted(p.name for p in (REPO / "infra").glob("*.py") if p.name != "__init__.py")
    assert [m for m in modules if f"`{m}`" not in listed] == []
