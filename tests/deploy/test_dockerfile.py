"""deploy/Dockerfile, linted offline: stages, pinned bases, the lock file, a non-root user, and
a build context that holds exactly what the image copies."""

from __future__ import annotations

import fnmatch
import io
import json
from pathlib import Path
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser

from tests.deploy.config_table import ROOT

DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / "deploy" / "Dockerfile.dockerignore"


def parse(text: str | None = None) -> DockerfileParser:
    """The Dockerfile, or ``text`` in its place (held in memory, never written)."""
    source = DOCKERFILE.read_text() if text is None else text
    return DockerfileParser(fileobj=io.BytesIO(source.encode()))


def stages(parser: DockerfileParser) -> list[list[dict[str, Any]]]:
    """Instructions grouped by stage (the ARGs before the first FROM are dropped)."""
    grouped: list[list[dict[str, Any]]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            grouped.append([])
        if grouped:
            grouped[-1].append(instruction)
    return grouped


def lint(parser: DockerfileParser) -> list[str]:
    problems = []
    if len(stages(parser)) < 2:
        problems.append("not multi-stage")
    for image in parser.parent_images:
        name = image.split("@")[0]
        tag = name.rsplit(":", 1)[1] if ":" in name.split("/")[-1] else ""
        if tag in ("", "latest") and "@sha256:" not in image:
            problems.append(f"base image {image} is not pinned")
    final = stages(parser)[-1]
    users = [i["value"].split(":")[0] for i in final if i["instruction"] == "USER"]
    if not users:
        problems.append("the runtime stage runs as root (no USER)")
    elif users[-1] in ("0", "root") or not users[-1].isdigit():
        problems.append(f"the runtime stage's USER {users[-1]} is not a numeric non-root uid")
    syncs = [
        i["value"].split()
        for stage in stages(parser)[:-1]
        for i in stage
        if i["instruction"] == "RUN" and "uv sync" in " ".join(i["value"].split())
    ]
    if not syncs or not all("--frozen" in words and "--no-dev" in words for words in syncs):
        problems.append("the build stage does not install from the lock file without dev tools")
    if any("uv" in i["value"].split() for i in final if i["instruction"] == "RUN"):
        problems.append("the runtime stage runs uv")
    if not any(i["instruction"] == "ENTRYPOINT" for i in final):
        problems.append("no ENTRYPOINT")
    return problems


def test_dockerfile_lints_clean() -> None:
    assert lint(parse()) == []


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (("USER 10001:10001", "USER root"), "the runtime stage's USER root"),
        (("USER 10001:10001\n", ""), "the runtime stage runs as root (no USER)"),
        (("ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm", "ARG PYTHON_IMAGE=python"), "python"),
        (("uv:0.13.9 AS uv", "uv:latest AS uv"), "uv:latest is not pinned"),
        (("--frozen --no-dev --no-editable", "--no-dev --no-editable"), "lock file"),
    ],
)
def test_lint_catches(edit: tuple[str, str], problem: str) -> None:
    text = DOCKERFILE.read_text()
    assert edit[0] in text
    found = lint(parse(text.replace(edit[0], edit[1])))
    assert any(problem in line for line in found), found


def test_entrypoint_is_the_process_chooser() -> None:
    final = stages(parse())[-1]
    entrypoint = next(i for i in final if i["instruction"] == "ENTRYPOINT")
    assert json.loads(entrypoint["value"]) == ["/app/entrypoint.sh"]


def _included(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; '!' re-includes."""
    included = True
    for pattern in patterns:
        negated = pattern.startswith("!")
        bare = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, bare) or path.startswith(bare + "/"):
            included = negated
    return included


def test_the_build_context_holds_what_the_image_copies() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = [
        source
        for instruction in parse().structure
        if instruction["instruction"] == "COPY" and "--from" not in instruction["value"]
        for source in instruction["value"].split()[:-1]
    ]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert _included(source, patterns), f"{source} is excluded from the build context"
    # Local state never enters the image.
    for private in (".venv/bin/python", ".dancu/keys/signing.pem", ".git/config"):
        assert not _included(private, patterns), private


def test_copied_scripts_are_executable_or_run_by_python() -> None:
    assert (ROOT / "deploy" / "entrypoint.sh").stat().st_mode & 0o111
    assert Path(ROOT / "deploy" / "healthcheck.py").read_text().startswith('"""')
