"""The Lambda asset: what goes in, what stays out, and when it must be rebuilt."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from aws_cdk import aws_lambda as lambda_

from infra.bundling import (
    LocalPipBundler,
    TargetPlatform,
    asset_fingerprint,
    bytecode_interpreter,
    compile_bytecode,
    directory_size_bytes,
)
from infra.functions import LAMBDA_TARGET

REPO = Path(__file__).resolve().parents[2]


def make_package(root: Path, body: str = "VALUE = 1\n") -> Path:
    package = root / "prompt_rollback"
    (package / "handlers").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "handlers" / "worker.py").write_text(body)
    (package / "handlers" / "__pycache__").mkdir()
    (package / "handlers" / "__pycache__" / "worker.cpython-311.pyc").write_bytes(b"stale")
    return package


def test_pip_targets_the_lambda_platform() -> None:
    arguments = LAMBDA_TARGET.pip_install_arguments("requirements.txt", "/out")
    assert arguments[arguments.index("--platform") + 1] == "manylinux2014_aarch64"
    assert arguments[arguments.index("--python-version") + 1] == "3.14"
    assert "--only-binary=:all:" in arguments
    x86 = TargetPlatform(runtime=lambda_.Runtime.PYTHON_3_13, architecture=lambda_.Architecture.X86_64)
    assert x86.pip_platform == "manylinux2014_x86_64"
    assert x86.python_version == "3.13"


def test_fingerprint_follows_requirements_and_code_but_not_location_or_caches(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("pydantic==2.13.4\n")
    first = make_package(tmp_path / "a")
    second = make_package(tmp_path / "b")
    (second / "handlers" / "__pycache__" / "other.pyc").write_bytes(b"more stale bytecode")

    def fingerprint(package: Path) -> str:
        return asset_fingerprint(LAMBDA_TARGET, requirements_file=requirements, package_dir=package)

    assert fingerprint(first) == fingerprint(second)
    baseline = fingerprint(first)
    requirements.write_text("pydantic==2.13.5\n")
    assert fingerprint(first) != baseline
    requirements.write_text("pydantic==2.13.4\n")
    (first / "handlers" / "worker.py").write_text("VALUE = 2\n")
    assert fingerprint(first) != baseline


def test_bytecode_is_compiled_without_timestamps(tmp_path: Path) -> None:
    package = make_package(tmp_path)
    shutil.rmtree(package / "handlers" / "__pycache__")
    report = compile_bytecode(tmp_path, sys.executable)
    assert "except" not in report
    (compiled,) = (package / "handlers" / "__pycache__").glob("worker.*.pyc")
    flags = int.from_bytes(compiled.read_bytes()[4:8], "little")
    assert flags == 0b01  # hash-based, unchecked: valid whatever the zip's file times


def test_bytecode_interpreter_must_match_the_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    monkeypatch.setenv("LAMBDA_BYTECODE_PYTHON", sys.executable)
    assert bytecode_interpreter(running) == sys.executable
    with pytest.raises(ValueError, match=r"not 2\.7"):
        bytecode_interpreter("2.7")
    monkeypatch.delenv("LAMBDA_BYTECODE_PYTHON")
    monkeypatch.setenv("PATH", "")
    assert bytecode_interpreter(running) is None


@pytest.mark.skipif(os.environ.get("SKIP_BUNDLING_TEST") == "1", reason="SKIP_BUNDLING_TEST=1 (needs PyPI)")
@pytest.mark.timeout(600)
def test_local_bundler_builds_a_lambda_ready_asset(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    output = tmp_path / "asset"
    started = time.monotonic()
    LocalPipBundler(LAMBDA_TARGET).bundle_into(output)
    elapsed = time.monotonic() - started

    assert (output / "prompt_rollback" / "worker" / "handler.py").is_file()
    assert (output / "prompt_rollback" / "sources" / "webhook_handler.py").is_file()
    assert not list((output / "prompt_rollback").rglob("*.cpython-311.pyc"))
    assert (output / "aws_lambda_powertools").is_dir()
    assert (output / "langfuse").is_dir()
    assert (output / "slack_sdk").is_dir()
    # langfuse with what its __init__ imports; no X-Ray SDK.
    assert (output / "opentelemetry").is_dir()
    assert not (output / "aws_xray_sdk").exists()
    # Native code must be for Lambda's Graviton CPUs and the runtime's Python.
    (pydantic_core_binary,) = (output / "pydantic_core").glob("_pydantic_core*.so")
    assert "cpython-314" in pydantic_core_binary.name
    assert "aarch64" in pydantic_core_binary.name
    # The runtime provides these; a bundled copy would shadow its patched version.
    for runtime_provided in ("boto3", "botocore", "s3transfer"):
        assert not (output / runtime_provided).exists()
        assert not list(output.glob(f"{runtime_provided}-*.dist-info"))
    assert not (output / "bin").exists()

    megabytes = directory_size_bytes(output) / 1_000_000
    record_property("asset_unzipped_mb", round(megabytes, 1))
    record_property("bundling_seconds", round(elapsed, 1))
    print(f"\nLambda asset: {megabytes:.1f} MB unzipped, bundled in {elapsed:.1f}s")
    assert megabytes < 250  # Lambda's limit for an unzipped deployment package
