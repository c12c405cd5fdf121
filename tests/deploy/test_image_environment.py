"""The image's environment without a container engine: the environment the Dockerfile's build
stage makes (`uv sync --frozen --no-dev --no-editable`), used from outside the source tree
as the runtime stage uses it. It shows that the installed project carries what the processes
need (migrations, generated protos) and no development tools."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.kit.auth import generate_private_key_pem, public_key_pem
from tests.deploy.config_table import ROOT
from tests.support.postgres import DatabaseFactory

ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"
HEALTHCHECK = ROOT / "deploy" / "healthcheck.py"


def _uv() -> str | None:
    return shutil.which("uv") or next(
        (str(p) for p in [ROOT / ".tools" / "bin" / "uv"] if p.exists()), None
    )


@pytest.fixture(scope="module")
def image_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = _uv()
    if uv is None:
        pytest.skip("uv is not installed")
    environment = tmp_path_factory.mktemp("image") / "venv"
    result = subprocess.run(
        [uv, "sync", "--frozen", "--no-dev", "--no-editable", "--quiet"],
        cwd=ROOT,
        env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(environment)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return environment


def run(image_env: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *args],
        cwd=cwd,
        env={
            "PATH": f"{image_env / 'bin'}{os.pathsep}/usr/bin:/bin",
            "DANCU_HOME": str(cwd),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_no_development_tools(image_env: Path) -> None:
    bin_dir = image_env / "bin"
    assert (bin_dir / "dancu").exists()
    for tool in ("pytest", "ruff", "mypy", "lint-imports"):
        assert not (bin_dir / tool).exists(), tool


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_migrate_and_serve_from_the_installed_project(
    image_env: Path, tmp_path: Path, fresh_database_url: DatabaseFactory
) -> None:
    # A working directory with no source tree: imports must come from the installed project.
    outside = tmp_path
    url = fresh_database_url("image_registry")
    migrated = run(image_env, outside, "migrate", "registry", DANCU_REGISTRY_DATABASE_URL=url)
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.startswith("registry: schema at ")
    key = outside / "public.pem"
    key.write_bytes(public_key_pem(generate_private_key_pem()))
    port = free_port()
    server = subprocess.Popen(
        ["sh", str(ENTRYPOINT), "registry"],
        cwd=outside,
        env={
            "PATH": f"{image_env / 'bin'}{os.pathsep}/usr/bin:/bin",
            "DANCU_REGISTRY_DATABASE_URL": url,
            "DANCU_REGISTRY_HOST": "0.0.0.0",  # noqa: S104 - as in a container
            "DANCU_REGISTRY_PORT": str(port),
            "DANCU_AUTH_PUBLIC_KEY_FILE": str(key),
        },
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        healthy = False
        while time.monotonic() < deadline and server.poll() is None:
            check = subprocess.run(
                [sys.executable, str(HEALTHCHECK), f"127.0.0.1:{port}"],
                capture_output=True,
                check=False,
                timeout=30,
            )
            if check.returncode == 0:
                healthy = True
                break
            time.sleep(0.5)
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)
    assert healthy, errors
