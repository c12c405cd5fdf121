"""deploy/compose.yaml: structure, pinned images, start order, and each process's environment
complete against the settings loader it runs and the configuration table."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from compose_spec import PyCompose

from tests.deploy import compose_checks
from tests.deploy.compose_checks import SERVICES, interpolate
from tests.deploy.config_table import ROOT, startup_problem, table_problems

# What deploy/compose.env.example sets: the variables compose needs from deploy/.env.
EXAMPLE_ENV = dict(
    line.split("=", 1)
    for line in (ROOT / "deploy" / "compose.env.example").read_text().splitlines()
    if line and not line.startswith("#")
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return compose_checks.load()


def environment(compose: dict[str, Any], name: str) -> dict[str, str]:
    raw = compose["services"][name].get("environment", {})
    return {key: interpolate(str(value), EXAMPLE_ENV) for key, value in raw.items()}


def specification_error(text: str) -> str | None:
    """What the Compose specification refuses in ``text`` once variables are interpolated and
    YAML merge keys resolved, as `docker compose` does before it validates."""
    variables = re.compile(r"\$\{[^}]+\}")
    resolved = variables.sub(lambda match: interpolate(match.group(0), EXAMPLE_ENV), text)
    try:
        PyCompose.from_json(json.dumps(yaml.safe_load(resolved)))
    except ValueError as error:
        return str(error)
    return None


def test_the_file_follows_the_compose_specification() -> None:
    assert specification_error(compose_checks.COMPOSE.read_text()) is None


@pytest.mark.parametrize(
    ("edit", "refusal"),
    [
        (("condition: service_completed_successfully", "condition: completed"), "completed"),
        (("restart: unless-stopped", "restart: sometimes"), "sometimes"),
        (('ports: ["127.0.0.1:50051:50051"]', 'port: ["127.0.0.1:50051:50051"]'), "port"),
        (("interval: 5s", "interval: 5 seconds"), "duration"),
    ],
)
def test_the_specification_catches(edit: tuple[str, str], refusal: str) -> None:
    text = compose_checks.COMPOSE.read_text()
    assert edit[0] in text
    error = specification_error(text.replace(edit[0], edit[1], 1))
    assert error is not None
    assert refusal in error


def test_images_are_pinned(compose: dict[str, Any]) -> None:
    assert compose_checks.image_problems(compose) == []


def test_an_unpinned_image_is_caught(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["jaeger"]["image"] = "jaegertracing/jaeger:latest"
    broken["services"]["temporal"]["image"] = "temporalio/auto-setup"
    assert len(compose_checks.image_problems(broken)) == 2


def test_structure(compose: dict[str, Any]) -> None:
    assert compose_checks.structure_problems(compose) == []


def test_a_service_started_before_its_migration_is_caught(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    del broken["services"]["alerts"]["depends_on"]["migrate-alerts"]
    del broken["services"]["registry"]["healthcheck"]
    broken["services"]["welfare"]["volumes"].append("issuer:/run/dancu-issuer:ro")
    assert compose_checks.structure_problems(broken) == [
        "registry: no healthcheck",
        "alerts: does not wait for migrate-alerts to complete successfully",
        "welfare: mounts the signing key",
        "registry: healthcheck does not ask port 50051: []",
    ]


def test_addresses_name_services_at_their_ports(compose: dict[str, Any]) -> None:
    assert compose_checks.address_problems(compose) == []
    broken = copy.deepcopy(compose)
    broken["services"]["alerts"]["environment"]["DANCU_ALERTS_REGISTRY_ADDRESS"] = "registry:50052"
    assert compose_checks.address_problems(broken) == [
        "alerts: DANCU_ALERTS_REGISTRY_ADDRESS=registry:50052 is not a service at its port"
    ]


def test_required_settings_come_from_deploy_env(compose: dict[str, Any]) -> None:
    # Without deploy/.env compose refuses to start rather than run with empty passwords.
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        interpolate(compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"], {})


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_each_process_gets_a_complete_configuration(
    compose: dict[str, Any], name: str, tmp_path: Path
) -> None:
    process = SERVICES[name][0]
    given = environment(compose, name)
    assert startup_problem(process, given, tmp_path) is None
    assert table_problems(process, set(given)) == []


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_a_missing_setting_is_caught(compose: dict[str, Any], name: str, tmp_path: Path) -> None:
    process = SERVICES[name][0]
    given = environment(compose, name)
    token_or_key = next(key for key in given if key.endswith("_FILE"))
    del given[token_or_key]
    assert startup_problem(process, given, tmp_path) == f"{token_or_key[:-5]} is required"


def test_a_variable_the_table_does_not_list_is_caught() -> None:
    readers = "['case_status', 'registry', 'welfare', 'workflows']"
    assert table_problems("alerts", {"DANCU_ALERTS_HOST", "DANCU_TEMPORAL_ADDRESS"}) == [
        f"alerts: the table says DANCU_TEMPORAL_ADDRESS is read by {readers}"
    ]
    assert table_problems("registry", {"DANCU_REGISTRY_COLOUR"}) == [
        "registry: DANCU_REGISTRY_COLOUR is not in the configuration table"
    ]


def test_postgres_init_creates_each_services_database(compose: dict[str, Any]) -> None:
    script = (ROOT / "deploy" / "compose" / "postgres-init.sh").read_text()
    for name, (process, _) in SERVICES.items():
        if process == "workflows":
            continue
        url = environment(compose, name)[f"DANCU_{process.upper()}_DATABASE_URL"]
        role, database = url.split("//")[1].split(":")[0], url.rsplit("/", 1)[1]
        assert f"CREATE DATABASE {database} OWNER {role};" in script
    result = subprocess.run(
        ["sh", "-n", str(ROOT / "deploy" / "compose" / "postgres-init.sh")], check=False
    )
    assert result.returncode == 0


def test_collector_forwards_traces_to_jaeger(compose: dict[str, Any]) -> None:
    import yaml

    config = yaml.safe_load((ROOT / "deploy" / "compose" / "otel-collector.yaml").read_text())
    pipeline = config["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"]
    exporter = config["exporters"][pipeline["exporters"][0]]
    assert exporter["endpoint"].split(":")[0] in compose["services"]
    endpoint = environment(compose, "registry")["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert endpoint == "http://otel-collector:4317"
    assert config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].endswith(":4317")
