"""Checks of rendered Kubernetes objects that return problems as sentences (see
compose_checks for why)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.deploy.config_table import ROOT, startup_problem, table_problems
from tests.deploy.kustomize import Manifest, pod_specs

# Deployment → the process its container runs.
PROCESSES = {
    "registry": "registry",
    "case-status": "case_status",
    "alerts": "alerts",
    "welfare": "welfare",
    "worker": "workflows",
}
# Stands in for a Secret's value: a database URL's shape is all a setting needs at start-up.
SECRET_STAND_IN = "postgresql://stand-in@db.invalid:5432/stand_in"


def grpc_services() -> set[str]:
    """Fully qualified names of the suite's gRPC services, from the protos."""
    names = set()
    for proto in (ROOT / "protos" / "dancu").glob("*/v1/*.proto"):
        text = proto.read_text()
        package = re.search(r"^package ([\w.]+);", text, re.MULTILINE)
        for service in re.findall(r"^service (\w+)", text, re.MULTILINE):
            assert package is not None
            names.add(f"{package.group(1)}.{service}")
    return names


def _index(objects: list[Manifest]) -> dict[tuple[str, str], Manifest]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector["matchLabels"].items())


def workload_problems(objects: list[Manifest]) -> list[str]:
    problems = []
    index = _index(objects)
    for workload, template in pod_specs(objects):
        name = f"{workload['kind']}/{workload['metadata']['name']}"
        spec, labels = template["spec"], template["metadata"]["labels"]
        if workload["kind"] == "Deployment" and not _selects(workload["spec"]["selector"], labels):
            problems.append(f"{name}: its selector does not match its pods")
        pod_security = spec.get("securityContext", {})
        if pod_security.get("runAsNonRoot") is not True or not pod_security.get("runAsUser"):
            problems.append(f"{name}: may run as root")
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: mounts a service account token it does not use")
        for container in spec["containers"]:
            where = f"{name} container {container['name']}"
            image = container["image"]
            if ":" not in image.split("/")[-1] or image.endswith(":latest"):
                problems.append(f"{where}: image {image} is not pinned")
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in resources.get(bound, {}):
                        problems.append(f"{where}: no {resource} {bound[:-1]}")
            security = container.get("securityContext", {})
            if security.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allows privilege escalation")
            if security.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: writable root filesystem")
            if security.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{where}: keeps capabilities")
            problems += _probe_problems(where, workload, container)
        if workload["kind"] == "Deployment":
            for kind in ("HorizontalPodAutoscaler", "PodDisruptionBudget"):
                other = index.get((kind, workload["metadata"]["name"]))
                if other is None:
                    problems.append(f"{name}: no {kind}")
                elif kind == "PodDisruptionBudget" and not _selects(
                    other["spec"]["selector"], labels
                ):
                    problems.append(f"{name}: its PodDisruptionBudget selects other pods")
                elif kind == "HorizontalPodAutoscaler":
                    target = other["spec"]["scaleTargetRef"]
                    if (target["kind"], target["name"]) != (
                        "Deployment",
                        workload["metadata"]["name"],
                    ):
                        problems.append(f"{name}: its autoscaler scales {target}")
                    if "replicas" in workload["spec"]:
                        problems.append(f"{name}: sets replicas that its autoscaler owns")
    return problems


def _probe_problems(where: str, workload: Manifest, container: Manifest) -> list[str]:
    ports = {p["containerPort"] for p in container.get("ports", [])}
    if workload["kind"] == "Job" or workload["metadata"]["name"] == "worker":
        return [f"{where}: serves a port but is not a service"] if ports else []
    problems = []
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        grpc = container.get(probe, {}).get("grpc")
        if grpc is None:
            problems.append(f"{where}: no gRPC {probe}")
        elif grpc["port"] not in ports:
            problems.append(f"{where}: {probe} asks port {grpc['port']}, not {sorted(ports)}")
    readiness = container.get("readinessProbe", {}).get("grpc", {}).get("service")
    if readiness is not None and readiness not in grpc_services():
        problems.append(f"{where}: readiness asks for unknown service {readiness}")
    return problems


def service_problems(objects: list[Manifest]) -> list[str]:
    """Each Service selects pods that serve its target port; each address in a ConfigMap names
    a Service at a port it has (or the Temporal frontend / collector outside the suite)."""
    problems = []
    index = _index(objects)
    services = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Service"}
    for name, service in services.items():
        matched = [
            (w, t)
            for w, t in pod_specs(objects)
            if w["kind"] == "Deployment"
            and _selects({"matchLabels": service["spec"]["selector"]}, t["metadata"]["labels"])
        ]
        named = {
            p["name"]
            for _, template in matched
            for c in template["spec"]["containers"]
            for p in c.get("ports", [])
        }
        for port in service["spec"]["ports"]:
            if port["targetPort"] not in named:
                problems.append(f"Service/{name}: no pod serves {port['targetPort']}")
    for (kind, name), config in index.items():
        if kind != "ConfigMap":
            continue
        for key, value in config.get("data", {}).items():
            if not key.endswith("_ADDRESS") or "." in value:
                continue
            host, _, port = value.partition(":")
            target = services.get(host)
            if target is None or int(port) not in {p["port"] for p in target["spec"]["ports"]}:
                problems.append(f"ConfigMap/{name}: {key}={value} is not a Service's port")
    return problems


def environment_problems(objects: list[Manifest], scratch: Path) -> list[str]:
    """Each Deployment's container environment, as the kubelet would assemble it, loads the
    settings of the process it runs; every variable is one the table says it reads; every
    file setting points into a mounted Secret."""
    problems = []
    index = _index(objects)
    for workload, template in pod_specs(objects):
        if workload["kind"] != "Deployment":
            continue
        name = workload["metadata"]["name"]
        process = PROCESSES[name]
        container = template["spec"]["containers"][0]
        environ: dict[str, str] = {}
        for source in container.get("envFrom", []):
            config = index.get(("ConfigMap", source["configMapRef"]["name"]))
            if config is None:
                problems.append(f"{name}: ConfigMap {source['configMapRef']['name']} missing")
                continue
            environ.update(config.get("data", {}))
        for variable in container.get("env", []):
            if "value" in variable:
                environ[variable["name"]] = variable["value"]
            elif "secretKeyRef" in variable.get("valueFrom", {}):
                environ[variable["name"]] = SECRET_STAND_IN
        secret_mounts = {
            mount["mountPath"]
            for mount in container.get("volumeMounts", [])
            for volume in template["spec"].get("volumes", [])
            if volume["name"] == mount["name"] and "secret" in volume
        }
        for variable, value in environ.items():
            if variable.endswith("_FILE") and not any(
                value.startswith(path + "/") for path in secret_mounts
            ):
                problems.append(f"{name}: {variable}={value} is not in a mounted Secret")
        scratch_dir = scratch / name
        scratch_dir.mkdir(exist_ok=True)
        refused = startup_problem(process, environ, scratch_dir)
        if refused is not None:
            problems.append(f"{name}: would refuse to start: {refused}")
        problems += table_problems(process, set(environ))
    return problems


def secret_names(objects: list[Manifest]) -> set[str]:
    """Every Secret the objects read: volumes, secretKeyRefs and the Ingress's TLS."""
    names = set()
    for _, template in pod_specs(objects):
        for volume in template["spec"].get("volumes", []):
            if "secret" in volume:
                names.add(volume["secret"]["secretName"])
        for container in template["spec"]["containers"]:
            for variable in container.get("env", []):
                reference = variable.get("valueFrom", {}).get("secretKeyRef")
                if reference:
                    names.add(reference["name"])
    for ingress in (o for o in objects if o["kind"] == "Ingress"):
        names |= {tls["secretName"] for tls in ingress["spec"].get("tls", [])}
    return names
