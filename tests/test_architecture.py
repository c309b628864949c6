"""The import contract of the package layout: every contract holds, and breaks on a bad import.

A reader can trust docs/architecture.md only while these pass.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lambdas" / "prompt_rollback"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(lambdas_dir: Path, config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(lambdas_dir)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
        cwd=lambdas_dir,
        check=False,
        timeout=120,
    )


def test_the_tree_keeps_every_contract():
    result = lint_imports(ROOT / "lambdas", ROOT / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    shutil.copytree(
        PACKAGE, tmp_path / "lambdas" / "prompt_rollback", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(module: Path, statement: str) -> None:
    source = module.read_text()
    marker = "from __future__ import annotations\n"
    assert marker in source, f"{module} has no __future__ import to put the statement after"
    module.write_text(source.replace(marker, f"{marker}{statement}\n", 1))


@pytest.mark.parametrize(
    ("module", "statement", "contract"),
    [
        ("domain/requests.py", "import boto3", "The domain imports nothing but itself"),
        ("domain/policy.py", "from prompt_rollback import wiring", "Composition roots over independent"),
        ("sources/webhook_handler.py", "import prompt_rollback.rollback.service", "Composition roots over"),
        ("wiring.py", "import prompt_rollback.slack.service", "Composition roots over independent"),
        ("rollback/service.py", "import httpx", "No service talks to a client library"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(tree_copy: Path, module: str, statement: str, contract: str):
    add_import(tree_copy / "lambdas" / "prompt_rollback" / module, statement)
    result = lint_imports(tree_copy / "lambdas", tree_copy / "pyproject.toml")
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in " ".join(broken.split()), result.stdout


def test_the_domain_imports_only_the_standard_library_and_pydantic():
    allowed = set(sys.stdlib_module_names) | {"pydantic", "pydantic_core", "prompt_rollback"}
    outside: list[str] = []
    for path in sorted((PACKAGE / "domain").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                in_domain = name == "prompt_rollback.domain" or name.startswith("prompt_rollback.domain.")
                if top not in allowed or (top == "prompt_rollback" and not in_domain):
                    outside.append(f"{path.relative_to(PACKAGE)}: {name}")
    assert outside == []


PRODUCT_CODE = ("lambdas", "local_mode", "prompt_rollback_exporter", "regression_gate")


def python_files(*roots: str) -> list[Path]:
    return sorted(
        path for root in roots for path in (ROOT / root).rglob("*.py") if "__pycache__" not in path.parts
    )


def test_module_docstrings_say_what_a_module_is_for_in_three_lines_or_fewer():
    long = []
    for path in python_files(*PRODUCT_CODE):
        docstring = ast.get_docstring(ast.parse(path.read_text()), clean=False)
        if docstring and len(docstring.strip().splitlines()) > 3:
            long.append(str(path.relative_to(ROOT)))
    assert long == []


def test_handlers_stay_thin_and_functions_short():
    handlers = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for path in python_files("lambdas")
        if path.stem.endswith("handler")
    }
    assert handlers, "no handler modules found"
    assert {name: lines for name, lines in handlers.items() if lines > 120} == {}
    long_functions = [
        f"{path.relative_to(ROOT)}:{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path in python_files(*PRODUCT_CODE, "tests")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > 60
    ]
    assert long_functions == []
