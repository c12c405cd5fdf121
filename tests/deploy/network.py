"""Which connections a set of NetworkPolicies lets through, computed from the manifests: for
every source pod and every destination (pods of the suite and the peers outside it), a
connection on a port is open when the source's egress policies and the destination's ingress
policies both allow it (Kubernetes' semantics: policies add up, and a pod selected by no
policy of a direction is open in that direction)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    labels: Mapping[str, str]
    ports: frozenset[int] = frozenset()
    # Namespaces outside the suite are not governed by its policies.
    governed: bool = True


def _matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    if selector is None:
        return True
    if "matchExpressions" in selector:
        raise ValueError("matchExpressions are not evaluated; use matchLabels")
    wanted: Mapping[str, str] = selector.get("matchLabels", {})
    return all(labels.get(key) == value for key, value in wanted.items())


def _namespace_labels(namespace: str) -> dict[str, str]:
    return {"kubernetes.io/metadata.name": namespace}


def _peer_matches(peer: Mapping[str, Any], policy_namespace: str, pod: Pod) -> bool:
    if "ipBlock" in peer:
        raise ValueError("ipBlock peers are not evaluated")
    if "namespaceSelector" in peer:
        in_namespace = _matches(peer["namespaceSelector"], _namespace_labels(pod.namespace))
    else:
        in_namespace = pod.namespace == policy_namespace
    return in_namespace and _matches(peer.get("podSelector"), pod.labels)


def _port_matches(ports: list[Mapping[str, Any]] | None, port: int) -> bool:
    if not ports:
        return True
    for entry in ports:
        if not isinstance(entry.get("port", 0), int):
            raise ValueError("named ports are not evaluated; use numbers")
        if entry.get("port") in (None, port):
            return True
    return False


def _allows(policies: list[Manifest], subject: Pod, other: Pod, port: int, direction: str) -> bool:
    kind = "Ingress" if direction == "ingress" else "Egress"
    peers_key = "from" if direction == "ingress" else "to"
    selecting = [
        policy
        for policy in policies
        if policy["metadata"].get("namespace", subject.namespace) == subject.namespace
        and kind in policy["spec"].get("policyTypes", ["Ingress"])
        and _matches(policy["spec"]["podSelector"], subject.labels)
    ]
    if not subject.governed or not selecting:
        return True
    for policy in selecting:
        namespace = policy["metadata"].get("namespace", subject.namespace)
        for rule in policy["spec"].get(direction, []):
            peers = rule.get(peers_key)
            reached = not peers or any(_peer_matches(p, namespace, other) for p in peers)
            if reached and _port_matches(rule.get("ports"), port):
                return True
    return False


def open_paths(
    policies: list[Manifest], sources: Iterable[Pod], destinations: Iterable[Pod]
) -> set[tuple[str, str, int]]:
    targets = list(destinations)
    paths = set()
    for source in sources:
        for destination in targets:
            if destination.name == source.name:
                continue
            for port in destination.ports:
                if _allows(policies, source, destination, port, "egress") and _allows(
                    policies, destination, source, port, "ingress"
                ):
                    paths.add((source.name, destination.name, port))
    return paths


def workload_pods(objects: list[Manifest]) -> list[Pod]:
    pods = []
    for manifest in objects:
        if manifest["kind"] not in ("Deployment", "Job"):
            continue
        template = manifest["spec"]["template"]
        ports = {
            port["containerPort"]
            for container in template["spec"]["containers"]
            for port in container.get("ports", [])
        }
        pods.append(
            Pod(
                manifest["metadata"]["name"],
                manifest["metadata"]["namespace"],
                template["metadata"]["labels"],
                frozenset(ports),
            )
        )
    return pods
