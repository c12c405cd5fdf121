"""deploy/k8s rendered offline for each overlay, every object validated against the
Kubernetes schema, and the workloads checked: probes, resources, security, autoscaling,
disruption budgets, Services, each process's environment, and the documented Secrets."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy import k8s_checks
from tests.deploy.config_table import OPERATIONS, ROOT
from tests.deploy.kustomize import Unsupported, render

K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ["dev", "prod"]


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(K8S / "overlays" / request.param)


def test_every_yaml_file_under_deploy_parses() -> None:
    files = sorted((ROOT / "deploy").rglob("*.yaml"))
    assert len(files) > 10
    for path in files:
        assert list(yaml.safe_load_all(path.read_text())), path


def test_every_object_is_valid_against_its_schema(rendered: list[dict[str, Any]]) -> None:
    version = kubernetes_validate.latest_version()
    for manifest in rendered:
        # strict: a misspelt or misplaced field is an error, not silently dropped.
        kubernetes_validate.validate(manifest, version, strict=True)


def test_a_misplaced_field_fails_the_schema() -> None:
    deployment = next(o for o in render(K8S / "base") if o["kind"] == "Deployment")
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["grpcPort"] = 50051
    with pytest.raises(kubernetes_validate.ValidationError, match="grpcPort"):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)


def test_objects_land_in_the_overlays_namespace() -> None:
    for overlay, namespace in (("dev", "dancu-dev"), ("prod", "dancu")):
        assert {o["metadata"]["namespace"] for o in render(K8S / "overlays" / overlay)} == {
            namespace
        }


def test_images_come_from_the_overlay() -> None:
    images = {c["image"] for _, t in pod_specs_of("prod") for c in t["spec"]["containers"]}
    assert images == {"registry.example.org/dancu/dancu:0.1.0"}


def pod_specs_of(overlay: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    from tests.deploy.kustomize import pod_specs

    return list(pod_specs(render(K8S / "overlays" / overlay)))


def test_workloads(rendered: list[dict[str, Any]]) -> None:
    assert k8s_checks.workload_problems(rendered) == []


def test_workload_checks_catch() -> None:
    objects = copy.deepcopy(render(K8S / "overlays" / "prod"))
    registry = next(
        o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "registry"
    )
    container = registry["spec"]["template"]["spec"]["containers"][0]
    del container["resources"]["limits"]["memory"]
    container["readinessProbe"]["grpc"]["port"] = 50052
    container["readinessProbe"]["grpc"]["service"] = "dancu.registry.v1.Registry"
    del container["livenessProbe"]
    registry["spec"]["replicas"] = 3
    objects = [
        o
        for o in objects
        if (o["kind"], o["metadata"]["name"]) != ("PodDisruptionBudget", "alerts")
    ]
    assert k8s_checks.workload_problems(objects) == [
        "Deployment/registry container registry: no memory limit",
        "Deployment/registry container registry: readinessProbe asks port 50052, not [50051]",
        "Deployment/registry container registry: no gRPC livenessProbe",
        "Deployment/registry container registry: readiness asks for unknown service "
        "dancu.registry.v1.Registry",
        "Deployment/registry: sets replicas that its autoscaler owns",
        "Deployment/alerts: no PodDisruptionBudget",
    ]


def test_services_and_addresses(rendered: list[dict[str, Any]]) -> None:
    assert k8s_checks.service_problems(rendered) == []
    broken = copy.deepcopy(rendered)
    config = next(o for o in broken if o["metadata"]["name"] == "welfare-config")
    config["data"]["DANCU_WELFARE_CASE_STATUS_ADDRESS"] = "case-status:50051"
    assert k8s_checks.service_problems(broken) == [
        "ConfigMap/welfare-config: DANCU_WELFARE_CASE_STATUS_ADDRESS=case-status:50051 "
        "is not a Service's port"
    ]


def test_each_process_gets_a_complete_configuration(
    rendered: list[dict[str, Any]], tmp_path: Path
) -> None:
    assert k8s_checks.environment_problems(rendered, tmp_path) == []


def test_an_incomplete_configuration_is_caught(tmp_path: Path) -> None:
    objects = copy.deepcopy(render(K8S / "overlays" / "prod"))
    alerts = next(
        o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "alerts"
    )
    alerts["spec"]["template"]["spec"]["containers"][0]["env"] = []
    worker_config = next(o for o in objects if o["metadata"]["name"] == "worker-config")
    worker_config["data"]["DANCU_WORKFLOWS_TOKEN_FILE"] = "/var/run/token"
    worker_config["data"]["DANCU_ALERTS_WARN_LEVELS"] = "F0"
    assert k8s_checks.environment_problems(objects, tmp_path) == [
        "alerts: would refuse to start: DANCU_ALERTS_DATABASE_URL is required",
        "worker: DANCU_WORKFLOWS_TOKEN_FILE=/var/run/token is not in a mounted Secret",
        "workflows: the table says DANCU_ALERTS_WARN_LEVELS is read by ['alerts']",
    ]


def test_every_secret_read_is_documented() -> None:
    runbook = OPERATIONS.read_text()
    section = runbook.split("\n## Deploying on Kubernetes\n", 1)[1].split("\n## ", 1)[0]
    names = k8s_checks.secret_names(render(K8S / "overlays" / "prod"))
    assert "dancu-tls" in names
    for name in sorted(names):
        assert f"`{name}`" in section, f"Secret {name} is not documented"


def test_migration_jobs_read_only_their_database() -> None:
    jobs = [o for o in render(K8S / "base") if o["kind"] == "Job"]
    assert sorted(job["metadata"]["name"] for job in jobs) == [
        f"{name}-migrate" for name in ("alerts", "case-status", "registry", "welfare")
    ]
    for job in jobs:
        service = job["metadata"]["name"].removesuffix("-migrate")
        container = job["spec"]["template"]["spec"]["containers"][0]
        process = k8s_checks.PROCESSES[service]
        assert container["args"] == ["migrate", process]
        assert [v["name"] for v in container["env"]] == [f"DANCU_{process.upper()}_DATABASE_URL"]
        assert container["env"][0]["valueFrom"]["secretKeyRef"]["name"] == f"{service}-database"


def test_the_renderer_refuses_what_it_does_not_understand(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\ncommonLabels: {a: b}\n")
    with pytest.raises(Unsupported, match="commonLabels"):
        render(tmp_path)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_renderer_agrees_with_kustomize(overlay: str) -> None:
    output = subprocess.run(
        ["kubectl", "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout

    def keyed(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
        return {(o["kind"], o["metadata"]["name"]): o for o in objects}

    theirs = keyed([o for o in yaml.safe_load_all(output) if o])
    assert keyed(render(K8S / "overlays" / overlay)) == theirs


def test_temporal_values_use_postgresql() -> None:
    values = yaml.safe_load((ROOT / "deploy" / "helm" / "temporal-values.yaml").read_text())
    stores = values["server"]["config"]["persistence"]
    for store in ("default", "visibility"):
        sql = stores[store]["sql"]
        assert sql["driver"] == "postgres12"
        assert sql["existingSecret"]
        assert "password" not in sql
    for bundled in ("cassandra", "mysql", "postgresql", "elasticsearch", "prometheus", "grafana"):
        assert values.get(bundled, {}).get("enabled") is False, bundled
    assert values["web"]["enabled"] is True
