"""deploy/entrypoint.sh, run as the image runs it: the argument chooses the process, and an
incomplete configuration is refused with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.kit.auth import generate_private_key_pem, public_key_pem
from tests.deploy.config_table import ROOT

ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # The image puts the environment's bin first on PATH; here that is the project's .venv.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *args],
        env={"PATH": path, "DANCU_HOME": env.pop("DANCU_HOME", "/nonexistent"), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_unknown_command_is_refused_with_usage() -> None:
    result = run("scheduler")
    assert result.returncode == 64
    assert "unknown command: scheduler" in result.stderr
    assert "migrate SERVICE" in result.stderr


def test_migrate_names_a_service() -> None:
    result = run("migrate", "payments")
    assert result.returncode == 64


def test_migrate_refuses_without_its_database_url() -> None:
    result = run("migrate", "case_status")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "case_status: cannot migrate: DANCU_CASE_STATUS_DATABASE_URL is required"
    )


def test_a_service_refuses_an_incomplete_configuration() -> None:
    result = run("welfare")
    assert result.returncode == 2
    assert result.stderr.strip() == "welfare: cannot start: DANCU_WELFARE_DATABASE_URL is required"


def test_the_worker_refuses_without_its_token() -> None:
    result = run("worker")
    assert result.returncode == 2
    assert result.stderr.strip() == "workflows: cannot start: DANCU_WORKFLOWS_TOKEN is required"


def test_a_service_refuses_a_database_behind_its_code(
    empty_database_url: str, tmp_path: Path
) -> None:
    result = run(
        "alerts",
        DANCU_ALERTS_DATABASE_URL=empty_database_url,
        DANCU_AUTH_PUBLIC_KEY_FILE=str(public_key(tmp_path)),
        DANCU_ALERTS_SERVICE_TOKEN="stand-in",
    )
    assert result.returncode == 2
    assert "alerts: cannot start: database schema is at nothing" in result.stderr


@pytest.fixture
def credentials_home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_migrate_then_dev_credentials(empty_database_url: str, credentials_home: Path) -> None:
    result = run("migrate", "welfare", DANCU_WELFARE_DATABASE_URL=empty_database_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("welfare: schema at ")
    # Migrating again does nothing: the compose job is safe to repeat at every `up`.
    assert run("migrate", "welfare", DANCU_WELFARE_DATABASE_URL=empty_database_url).returncode == 0
    shared = credentials_home.parent / "shared"
    made = run("dev-credentials", str(shared), DANCU_HOME=str(credentials_home))
    assert made.returncode == 0, made.stderr
    assert (credentials_home / "keys" / "signing.pem").exists()
    # What the services mount holds no private key.
    assert sorted(str(p.relative_to(shared)) for p in shared.rglob("*") if p.is_file()) == [
        "keys/public.pem",
        "tokens/service.jwt",
    ]
    assert (shared / "keys" / "public.pem").read_text().startswith("-----BEGIN PUBLIC")
    assert (shared / "tokens" / "service.jwt").read_text().count(".") == 2


def public_key(folder: Path) -> Path:
    path = folder / "public.pem"
    path.write_bytes(public_key_pem(generate_private_key_pem()))
    return path
