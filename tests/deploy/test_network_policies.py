"""The NetworkPolicies open exactly the paths of docs/architecture.md, and nothing else:

- case_status → registry; alerts → registry, case_status; welfare → registry, case_status;
- the worker → the four services and the Temporal frontend;
- each service (and its migration Job) → its own database; the registry and case_status →
  the Temporal frontend (they relay their outboxes), welfare too (it forwards officers' acts
  to the cases' workflows);
- clients → each service, through the ingress controller;
- every workload → its spans to the collector, and DNS.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.kustomize import render
from tests.deploy.network import Pod, open_paths, workload_pods

OVERLAYS = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "overlays"
SERVICES = {"registry": 50051, "case-status": 50052, "alerts": 50053, "welfare": 50054}
# Workload → the database it owns (the name its migrations and settings use).
DATABASES = {
    "registry": "registry",
    "case-status": "case_status",
    "alerts": "alerts",
    "welfare": "welfare",
}
WORKLOADS = [*SERVICES, "worker"]


def outside(name: str, namespace: str, labels: dict[str, str], *ports: int) -> Pod:
    return Pod(name, namespace, labels, frozenset(ports), governed=False)


PEERS = [
    *(
        outside(f"db:{database}", "databases", {f"dancu.io/{service}-database": "true"}, 5432)
        for service, database in DATABASES.items()
    ),
    outside(
        "temporal-frontend",
        "temporal",
        {"app.kubernetes.io/name": "temporal", "app.kubernetes.io/component": "frontend"},
        7233,
    ),
    # Temporal's other roles are not for clients.
    outside(
        "temporal-history",
        "temporal",
        {"app.kubernetes.io/name": "temporal", "app.kubernetes.io/component": "history"},
        7234,
    ),
    outside(
        "collector", "observability", {"app.kubernetes.io/name": "opentelemetry-collector"}, 4317
    ),
    outside("dns", "kube-system", {"k8s-app": "kube-dns"}, 53),
    outside("ingress", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}),
    # Anything else in the cluster, and another pod in the suite's own namespace.
    outside("stranger", "default", {"app": "stranger"}, 5432, 7233, 50051),
]


def expected() -> set[tuple[str, str, int]]:
    calls = {
        "case-status": ["registry"],
        "alerts": ["registry", "case-status"],
        "welfare": ["registry", "case-status"],
        "worker": list(SERVICES),
    }
    paths = {
        (caller, callee, SERVICES[callee])
        for caller, callees in calls.items()
        for callee in callees
    }
    paths |= {("ingress", service, port) for service, port in SERVICES.items()}
    for service, database in DATABASES.items():
        paths.add((service, f"db:{database}", 5432))
        paths.add((f"{service}-migrate", f"db:{database}", 5432))
    # The services that relay an outbox or forward officers' acts, and the worker.
    paths |= {
        (workload, "temporal-frontend", 7233)
        for workload in ("registry", "case-status", "welfare", "worker")
    }
    paths |= {(workload, "collector", 4317) for workload in WORKLOADS}
    # Every pod of the namespace resolves names, the neighbour too; that is all it may do.
    every_pod = [*WORKLOADS, *(f"{s}-migrate" for s in SERVICES), "neighbour"]
    paths |= {(pod, "dns", 53) for pod in every_pod}
    return paths


def paths_of(objects: list[dict[str, Any]]) -> set[tuple[str, str, int]]:
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    namespace = objects[0]["metadata"]["namespace"]
    # Another pod of the suite's namespace that no workload policy names.
    neighbour = Pod("neighbour", namespace, {"app": "neighbour"}, frozenset({50051}))
    pods = [*workload_pods(objects), neighbour]
    clients = [p for p in PEERS if p.name in ("ingress", "stranger")]
    paths = open_paths(policies, [*pods, *clients], [*pods, *PEERS])
    # Between two pods outside the suite its policies decide nothing.
    governed = {p.name for p in pods}
    return {path for path in paths if path[0] in governed or path[1] in governed}


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_only_the_architectures_paths_are_open(overlay: str) -> None:
    objects = render(OVERLAYS / overlay)
    assert paths_of(objects) == expected()


def _policy(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    policy: dict[str, Any] = next(
        o for o in objects if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == name
    )
    return policy


def test_an_extra_caller_is_caught() -> None:
    objects = copy.deepcopy(render(OVERLAYS / "prod"))
    # alerts → welfare is no path of the architecture.
    welfare = _policy(objects, "welfare")
    welfare["spec"]["ingress"][0]["from"].append(
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "alerts"}}}
    )
    _policy(objects, "alerts")["spec"]["egress"].append(
        {"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "welfare"}}}]}
    )
    assert paths_of(objects) - expected() == {("alerts", "welfare", 50054)}


def test_a_wide_open_egress_is_caught() -> None:
    objects = copy.deepcopy(render(OVERLAYS / "prod"))
    _policy(objects, "registry")["spec"]["egress"].append({})
    extra = paths_of(objects) - expected()
    assert ("registry", "db:welfare", 5432) in extra
    assert ("registry", "temporal-history", 7234) in extra
    assert ("registry", "stranger", 5432) in extra


def test_without_default_deny_a_neighbour_is_open() -> None:
    objects = [
        o
        for o in copy.deepcopy(render(OVERLAYS / "prod"))
        if o["metadata"]["name"] != "default-deny"
    ]
    # The workloads keep their own policies, but a pod that no other Ingress policy selects
    # takes calls from anywhere again (its egress stays limited by allow-dns).
    assert paths_of(objects) - expected() == {
        ("ingress", "neighbour", 50051),
        ("stranger", "neighbour", 50051),
    }
