"""Renders deploy/k8s overlays without the kustomize binary, for the features the overlays use:
resources (files and directories), namespace, images and strategic-merge patches. A
kustomization using anything else is refused, so this renderer cannot silently disagree with
kustomize; where kubectl is installed, a test compares the two."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
# Lists of objects merged item by item on this key, as the Kubernetes types declare them
# (x-kubernetes-patch-merge-key); other lists are replaced by the patch's.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "name",
    "ports": "containerPort",
}

Manifest = dict[str, Any]


class Unsupported(Exception):
    pass


def load_documents(path: Path) -> list[Manifest]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def render(directory: Path) -> list[Manifest]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - SUPPORTED
    if unknown:
        raise Unsupported(f"{directory}: {sorted(unknown)} not understood by this renderer")
    objects: list[Manifest] = []
    for resource in kustomization.get("resources", []):
        path = (directory / resource).resolve()
        objects += render(path) if path.is_dir() else load_documents(path)
    for patch in kustomization.get("patches", []):
        if set(patch) != {"path"}:
            raise Unsupported(f"{directory}: only patches given by path are understood")
        for document in load_documents(directory / patch["path"]):
            target = find(objects, document["kind"], document["metadata"]["name"])
            merged = merge(target, document)
            target.clear()
            target.update(merged)
    for image in kustomization.get("images", []):
        for container in containers(objects):
            name, _, _ = container["image"].partition(":")
            if name == image["name"]:
                tag = image.get("newTag", container["image"].partition(":")[2])
                container["image"] = f"{image.get('newName', name)}:{tag}"
    if "namespace" in kustomization:
        for manifest in objects:
            manifest["metadata"]["namespace"] = kustomization["namespace"]
    return objects


def find(objects: list[Manifest], kind: str, name: str) -> Manifest:
    for manifest in objects:
        if manifest["kind"] == kind and manifest["metadata"]["name"] == name:
            return manifest
    raise Unsupported(f"patch target {kind}/{name} not found")


def merge(base: Any, patch: Any, field: str = "") -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = copy.deepcopy(base)
        for key, value in patch.items():
            merged[key] = merge(base[key], value, key) if key in base else copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(patch, list) and field in MERGE_KEYS:
        key = MERGE_KEYS[field]
        merged_list = copy.deepcopy(base)
        for item in patch:
            match = next((i for i, old in enumerate(merged_list) if old[key] == item[key]), None)
            if match is None:
                merged_list.append(copy.deepcopy(item))
            else:
                merged_list[match] = merge(merged_list[match], item, "")
        return merged_list
    return copy.deepcopy(patch)


def pod_specs(objects: list[Manifest]) -> Iterator[tuple[Manifest, Manifest]]:
    """(workload, its pod template) for Deployments and Jobs."""
    for manifest in objects:
        if manifest["kind"] in ("Deployment", "Job"):
            yield manifest, manifest["spec"]["template"]


def containers(objects: list[Manifest]) -> Iterator[Manifest]:
    for _, template in pod_specs(objects):
        spec = template["spec"]
        yield from spec.get("initContainers", [])
        yield from spec["containers"]
