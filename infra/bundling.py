"""The Lambda assets: `lambdas/prompt_rollback` plus the wheels of a requirements file, installed by
this machine's pip for the Lambda's platform (manylinux aarch64, the runtime's CPython), so no
Docker is needed; Docker (the runtime's SAM build image) is only CDK's fallback without pip."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, DockerVolume, ILocalBundling
from aws_cdk import aws_lambda as lambda_

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSET_ROOT = REPO_ROOT / "lambdas"
PACKAGE_NAME = "prompt_rollback"
# One asset per function kind, both from the same package: the worker's with requirements.txt,
# the webhook's with requirements-webhook.txt (no Langfuse or httpx).
REQUIREMENTS_FILE = REPO_ROOT / "requirements.txt"
WEBHOOK_REQUIREMENTS_FILE = REPO_ROOT / "requirements-webhook.txt"

# The Lambda Python runtime ships boto3/botocore (and s3transfer); a bundled copy would only add
# ~30 MB and shadow the runtime's patched version. Should a dependency ever pull them in, they
# are removed after installing.
RUNTIME_PROVIDED_DISTRIBUTIONS = ("boto3", "botocore", "s3transfer")
# Installed as dependencies of dependencies, imported by none of our functions, so left out (tests/
# infra/test_asset_runtime.py imports every module of the package from the asset alone):
# requests (with its charset_normalizer) only for the OTLP exporter of Langfuse's tracing client
# `Langfuse()`, which the worker never builds (it uses LangfuseAPI); wrapt only for langfuse.openai.
UNIMPORTED_DISTRIBUTIONS = ("requests", "charset_normalizer", "wrapt")
# Typing stubs: read by type checkers, never by the import system.
TYPING_STUB_PATTERNS = ("*.pyi", "*-stubs")
# Changing how the bundle is built must change the asset hash; bump this with such a change.
BUNDLER_REVISION = "4"
IGNORED_SOURCE_PATTERNS = ("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache", ".ruff_cache")


@dataclass(frozen=True)
class TargetPlatform:
    """Where the code runs: pip's --platform/--python-version for the Lambda runtime."""

    runtime: lambda_.Runtime
    architecture: lambda_.Architecture

    @property
    def python_version(self) -> str:
        # "python3.14" -> "3.14"
        return self.runtime.name.removeprefix("python")

    @property
    def pip_platform(self) -> str:
        machine = "aarch64" if self.architecture.name == lambda_.Architecture.ARM_64.name else "x86_64"
        return f"manylinux2014_{machine}"

    def pip_install_arguments(self, requirements_file: str, target_dir: str) -> list[str]:
        return [
            "install",
            "--requirement",
            requirements_file,
            "--target",
            target_dir,
            "--platform",
            self.pip_platform,
            "--implementation",
            "cp",
            "--python-version",
            self.python_version,
            "--only-binary=:all:",
            # .pyc files compiled by the synth interpreter would be for the wrong Python version;
            # compile_bytecode() does it with a matching interpreter when there is one.
            "--no-compile",
            "--disable-pip-version-check",
            # pip compares the target against the synth environment's packages: irrelevant here.
            "--no-warn-conflicts",
            "--quiet",
        ]


def is_ignored_source(name: str) -> bool:
    return any(fnmatch(name, pattern) for pattern in IGNORED_SOURCE_PATTERNS)


def remove_runtime_provided_distributions(site_dir: Path) -> None:
    for name in (*RUNTIME_PROVIDED_DISTRIBUTIONS, *UNIMPORTED_DISTRIBUTIONS):
        shutil.rmtree(site_dir / name, ignore_errors=True)
        for metadata_dir in site_dir.glob(f"{name}-*.dist-info"):
            shutil.rmtree(metadata_dir, ignore_errors=True)
    # Console scripts whose shebang names the synth machine's interpreter: useless in Lambda.
    shutil.rmtree(site_dir / "bin", ignore_errors=True)
    for pattern in TYPING_STUB_PATTERNS:
        for path in list(site_dir.rglob(pattern)):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)


def bytecode_interpreter(python_version: str) -> str | None:
    """A local CPython of the runtime's version: LAMBDA_BYTECODE_PYTHON, else `python3.14` on PATH."""
    configured = os.environ.get("LAMBDA_BYTECODE_PYTHON")
    interpreter = configured or shutil.which(f"python{python_version}")
    if interpreter is None:
        return None
    probe = subprocess.run(  # noqa: S603 - fixed argument list, no shell
        [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    )
    found = probe.stdout.strip()
    if found != python_version:
        if configured:
            # Bytecode of another version would be silently ignored by the runtime.
            raise ValueError(f"LAMBDA_BYTECODE_PYTHON={configured} is Python {found!r}, not {python_version}")
        return None
    return interpreter


def compile_bytecode(site_dir: Path, interpreter: str) -> str:
    """Precompile with the runtime's Python version: /var/task is read-only, so without .pyc files
    every cold start compiles all imported modules again (measured here: 2.2 s instead of 0.8 s
    to import the worker's modules). Returns a short report; a file that does not compile (some
    packages ship deliberately broken test files) is left to Python, as without precompiling."""
    completed = subprocess.run(  # noqa: S603 - fixed argument list, no shell
        # unchecked-hash: valid regardless of file times in the zip, and the same bytes every build.
        [
            interpreter,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            str(site_dir),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        failures = (completed.stdout + completed.stderr).strip().splitlines()[-3:]
        return f"bytecode compiled by {interpreter}, except: {' | '.join(failures)}"
    return f"bytecode compiled by {interpreter}"


def directory_size_bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


@jsii.implements(ILocalBundling)
class LocalPipBundler:
    """CDK local bundling: pip-install the requirements for the Lambda platform and copy the package in."""

    def __init__(
        self,
        target: TargetPlatform,
        *,
        requirements_file: Path = REQUIREMENTS_FILE,
        package_dir: Path = ASSET_ROOT / PACKAGE_NAME,
    ) -> None:
        self.target = target
        self.requirements_file = requirements_file
        self.package_dir = package_dir

    # Called by CDK through jsii; jsii spreads the BundlingOptions struct into the keyword-only
    # parameters. Returning False makes CDK fall back to Docker; a failing pip raises instead,
    # so its message is what the user sees.
    def try_bundle(self, output_dir: str, *, image: DockerImage, **options: Any) -> bool:
        if importlib.util.find_spec("pip") is None:
            return False
        self.bundle_into(Path(output_dir))
        return True

    def bundle_into(self, output_dir: Path) -> None:
        started = time.monotonic()
        output_dir.mkdir(parents=True, exist_ok=True)
        self._pip_install(self.requirements_file, output_dir)
        remove_runtime_provided_distributions(output_dir)
        shutil.copytree(
            self.package_dir,
            output_dir / PACKAGE_NAME,
            ignore=shutil.ignore_patterns(*IGNORED_SOURCE_PATTERNS),
            dirs_exist_ok=True,
        )
        interpreter = bytecode_interpreter(self.target.python_version)
        if interpreter:
            bytecode = compile_bytecode(output_dir, interpreter)
        else:
            bytecode = (
                f"WARNING: no python{self.target.python_version} found to precompile bytecode, "
                "cold starts will compile every imported module (set LAMBDA_BYTECODE_PYTHON)"
            )
        megabytes = directory_size_bytes(output_dir) / 1_000_000
        print(
            f"prompt-rollback: bundled Lambda asset for {self.target.runtime.name}/"
            f"{self.target.pip_platform} in {time.monotonic() - started:.1f}s "
            f"({megabytes:.1f} MB unzipped); {bytecode}",
            file=sys.stderr,
        )

    def _pip_install(self, requirements_file: Path, output_dir: Path) -> None:
        command = [
            sys.executable,
            "-m",
            "pip",
            *self.target.pip_install_arguments(str(requirements_file), str(output_dir)),
        ]
        completed = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if completed.returncode != 0:
            raise RuntimeError(
                f"bundling the Lambda dependencies failed (pip exit {completed.returncode}):\n"
                f"{' '.join(command)}\n{completed.stdout}{completed.stderr}"
            )


def asset_fingerprint(
    target: TargetPlatform,
    *,
    requirements_file: Path = REQUIREMENTS_FILE,
    package_dir: Path = ASSET_ROOT / PACKAGE_NAME,
) -> str:
    """A hash of everything the bundle is made from, independent of where the checkout lives.

    CDK's default source hash covers only the asset folder (and the bundling options, which
    hold absolute paths): a change to requirements.txt, outside `lambdas/`, would go unnoticed.
    """
    digest = hashlib.sha256()
    # Whether bytecode can be compiled here changes the bundle, so it is part of the hash.
    compiles_bytecode = "pyc" if bytecode_interpreter(target.python_version) else "no-pyc"
    for part in (BUNDLER_REVISION, target.runtime.name, target.pip_platform, compiles_bytecode):
        digest.update(part.encode() + b"\0")
    digest.update(requirements_file.read_bytes() + b"\0")
    for path in sorted(package_dir.rglob("*")):
        relative_parts = path.relative_to(package_dir).parts
        if not path.is_file() or any(is_ignored_source(part) for part in relative_parts):
            continue
        digest.update("/".join(relative_parts).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def lambda_code(target: TargetPlatform, requirements_file: Path = REQUIREMENTS_FILE) -> lambda_.Code:
    """A function's asset: the package plus `requirements_file` (`lambdas/` is the asset root, per
    docs/architecture.md)."""
    pip = "pip --no-cache-dir"
    docker_command = " && ".join(
        [
            " ".join([pip, *target.pip_install_arguments("/requirements.txt", "/asset-output")]),
            "rm -rf "
            + " ".join(
                f"/asset-output/{name} /asset-output/{name}-*.dist-info"
                for name in (*RUNTIME_PROVIDED_DISTRIBUTIONS, *UNIMPORTED_DISTRIBUTIONS)
            )
            + " /asset-output/bin",
            "find /asset-output \\( -name '*.pyi' -o -name '*-stubs' \\) -prune -exec rm -rf {} +",
            f"cp -r /asset-input/{PACKAGE_NAME} /asset-output/",
            f"find /asset-output/{PACKAGE_NAME} -name __pycache__ -prune -exec rm -rf {{}} +",
            # The build image's python is the runtime's version.
            "python -m compileall -q -j 0 --invalidation-mode unchecked-hash /asset-output",
        ]
    )
    return lambda_.Code.from_asset(
        str(ASSET_ROOT),
        exclude=[f"**/{pattern}" for pattern in IGNORED_SOURCE_PATTERNS],
        bundling=BundlingOptions(
            image=target.runtime.bundling_image,
            local=LocalPipBundler(target, requirements_file=requirements_file),
            command=["bash", "-c", docker_command],
            # requirements.txt lives at the repo root, outside the asset root.
            volumes=[DockerVolume(host_path=str(requirements_file), container_path="/requirements.txt")],
        ),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=asset_fingerprint(target, requirements_file=requirements_file),
    )
