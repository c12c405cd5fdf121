"""Checks of deploy/compose.yaml that return problems as sentences, so that a test can show
both that the real file has none and that a broken copy is caught."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.config_table import ROOT

COMPOSE = ROOT / "deploy" / "compose.yaml"
DANCU_IMAGE = "${DANCU_IMAGE:-dancu:0.1.0}"

# Compose service → the process it runs and the port it serves (None: no port).
SERVICES: Mapping[str, tuple[str, int | None]] = {
    "registry": ("registry", 50051),
    "case_status": ("case_status", 50052),
    "alerts": ("alerts", 50053),
    "welfare": ("welfare", 50054),
    "worker": ("workflows", None),
}
# Each service's migration job.
MIGRATIONS = {
    "registry": "migrate-registry",
    "case_status": "migrate-case-status",
    "alerts": "migrate-alerts",
    "welfare": "migrate-welfare",
}
# Infrastructure whose images carry a way to check them.
CHECKED_INFRASTRUCTURE = ("postgres", "temporal")

_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}")


def load(path: Path = COMPOSE) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


def interpolate(value: str, environ: Mapping[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?message}; a missing required one is an
    error, as it is for `docker compose`."""

    def one(match: re.Match[str]) -> str:
        name, kind, rest = match.group(1), match.group(2), match.group(3)
        if environ.get(name):
            return environ[name]
        if kind == "-":
            return rest
        if kind == "?":
            raise KeyError(f"{name}: {rest}")
        return ""

    return _VARIABLE.sub(one, value)


def image_problems(compose: Mapping[str, Any]) -> list[str]:
    problems = []
    for name, service in compose["services"].items():
        image = service.get("image")
        if not image:
            problems.append(f"{name}: no image")
            continue
        reference = interpolate(image, {})
        tag = reference.rsplit(":", 1)[1] if ":" in reference.split("/")[-1] else ""
        if tag in ("", "latest"):
            problems.append(f"{name}: image {image!r} is not pinned to a version")
    return problems


def _depends(service: Mapping[str, Any]) -> Mapping[str, Any]:
    depends: Mapping[str, Any] = service.get("depends_on", {})
    return depends


def structure_problems(compose: Mapping[str, Any]) -> list[str]:
    services = compose["services"]
    problems = []
    for name in (*SERVICES, *CHECKED_INFRASTRUCTURE):
        if name not in services:
            problems.append(f"{name}: missing")
        elif "test" not in services[name].get("healthcheck", {}):
            problems.append(f"{name}: no healthcheck")
    for name, job in MIGRATIONS.items():
        migration = services.get(job, {})
        if migration.get("command") != ["migrate", name]:
            problems.append(f"{job}: does not run `migrate {name}`")
        if migration.get("restart") != "no":
            problems.append(f"{job}: a one-shot job must not restart")
        if _depends(migration).get("postgres", {}).get("condition") != "service_healthy":
            problems.append(f"{job}: does not wait for a healthy postgres")
        condition = _depends(services.get(name, {})).get(job, {}).get("condition")
        if condition != "service_completed_successfully":
            problems.append(f"{name}: does not wait for {job} to complete successfully")
    for name, service in services.items():
        if name != "credentials" and any(
            str(volume).startswith("issuer:") for volume in service.get("volumes", [])
        ):
            problems.append(f"{name}: mounts the signing key")
        for dependency in _depends(service):
            if dependency not in services:
                problems.append(f"{name}: depends on unknown {dependency}")
    for name, (process, port) in SERVICES.items():
        service = services.get(name, {})
        if service.get("image") != DANCU_IMAGE:
            problems.append(f"{name}: not the dancu image")
        command = service.get("command", [])
        expected = "worker" if process == "workflows" else process
        if command != [expected]:
            problems.append(f"{name}: command {command} does not run {expected}")
        if port is None:
            continue
        environment = service.get("environment", {})
        if environment.get(f"DANCU_{process.upper()}_HOST") != "0.0.0.0":  # noqa: S104
            problems.append(f"{name}: does not listen on 0.0.0.0 in its container")
        test = service.get("healthcheck", {}).get("test", [])
        if f"127.0.0.1:{port}" not in test:
            problems.append(f"{name}: healthcheck does not ask port {port}: {test}")
    return problems


def address_problems(compose: Mapping[str, Any]) -> list[str]:
    """Every *_ADDRESS names a compose service at the port it serves."""
    services = compose["services"]
    ports = {name: port for name, (_, port) in SERVICES.items() if port is not None}
    ports["temporal"] = 7233
    problems = []
    for name, service in services.items():
        for variable, value in service.get("environment", {}).items():
            if not variable.endswith("_ADDRESS"):
                continue
            host, _, port = str(value).partition(":")
            if host not in services or ports.get(host) != int(port or 0):
                problems.append(f"{name}: {variable}={value} is not a service at its port")
    return problems
