"""Generates the Python code of the protos, and checks the committed copy for drift.

The one definition of the protoc command line: ``make protos`` runs this module with
``--write`` (regenerate protos/gen/dancu in place) and ``make protos-check`` runs it without
(regenerate into a scratch directory and compare byte for byte with the committed code).

    python -m tests.support.protos_drift           # exit 1 and list the files on drift
    python -m tests.support.protos_drift --write   # regenerate protos/gen/dancu
"""

from __future__ import annotations

import argparse
import filecmp
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = REPO_ROOT / "protos"
GEN_ROOT = PROTO_ROOT / "gen"
PACKAGE = "dancu"
# Byte-compiled leftovers of importing the generated code are not part of it.
IGNORED_NAMES = frozenset({"__pycache__", ".mypy_cache"})


def proto_files(proto_root: Path = PROTO_ROOT) -> list[Path]:
    """Every .proto of the project, relative to ``proto_root``, in a stable order."""
    return sorted(p.relative_to(proto_root) for p in (proto_root / PACKAGE).rglob("*.proto"))


def include_paths(proto_root: Path = PROTO_ROOT) -> list[Path]:
    """The project's protos, protoc's well-known types, and googleapis-common-protos."""
    grpc_tools = importlib.util.find_spec("grpc_tools")
    google_type = importlib.util.find_spec("google.type")
    if grpc_tools is None or grpc_tools.origin is None or google_type is None:
        raise SystemExit("grpcio-tools or googleapis-common-protos missing: run uv sync")
    well_known = Path(grpc_tools.origin).parent / "_proto"
    # google/type/date.proto ships inside the googleapis-common-protos distribution.
    locations = google_type.submodule_search_locations or []
    roots = [Path(loc).parent.parent for loc in locations]
    googleapis_root = next((r for r in roots if (r / "google/type/date.proto").is_file()), None)
    if googleapis_root is None:
        raise SystemExit("google/type/date.proto not found: install googleapis-common-protos")
    return [proto_root, well_known, googleapis_root]


def _plugin(name: str) -> str:
    """The plugin executable, looked up beside this interpreter first (venv not activated)."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: install the dev dependencies (uv sync)")
    return found


def protoc_command(out_dir: Path, proto_root: Path = PROTO_ROOT) -> list[str]:
    """The command line of ``grpc_tools.protoc`` writing every output kind to ``out_dir``."""
    args = [sys.executable, "-m", "grpc_tools.protoc"]
    args += [f"-I{path}" for path in include_paths(proto_root)]
    args += [
        f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
    ]
    args += [str(proto_root / path) for path in proto_files(proto_root)]
    return args


def generate(out_dir: Path, proto_root: Path = PROTO_ROOT) -> Path:
    """Generates into ``out_dir`` (which must exist); returns ``out_dir / "dancu"``."""
    # A child process: the plugins' chatter ("Writing mypy to ...") is shown only on failure.
    done = subprocess.run(protoc_command(out_dir, proto_root), capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"protoc failed with exit code {done.returncode}")
    package_dir = out_dir / PACKAGE
    for directory in [package_dir, *(p for p in package_dir.rglob("*") if p.is_dir())]:
        (directory / "__init__.py").touch()
    return package_dir


def _files(root: Path) -> set[Path]:
    return {
        p.relative_to(root)
        for p in root.rglob("*")
        if p.is_file() and not IGNORED_NAMES.intersection(p.relative_to(root).parts)
    }


def differences(expected: Path, actual: Path) -> list[str]:
    """Lines naming each file that is missing, unexpected or different in ``actual``."""
    want = _files(expected)
    have = _files(actual) if actual.is_dir() else set()
    lines = [f"missing:    {p}" for p in sorted(want - have)]
    lines += [f"unexpected: {p}" for p in sorted(have - want)]
    lines += [
        f"differs:    {p}"
        for p in sorted(want & have)
        if not filecmp.cmp(expected / p, actual / p, shallow=False)
    ]
    return lines


def check(gen_root: Path = GEN_ROOT, proto_root: Path = PROTO_ROOT) -> list[str]:
    """Regenerates into a scratch directory and compares it with ``gen_root/dancu``."""
    with tempfile.TemporaryDirectory(prefix="dancu-protos-") as scratch:
        fresh = generate(Path(scratch), proto_root)
        return differences(fresh, gen_root / PACKAGE)


def write(gen_root: Path = GEN_ROOT, proto_root: Path = PROTO_ROOT) -> None:
    """Replaces ``gen_root/dancu`` with freshly generated code (nothing changes on failure)."""
    with tempfile.TemporaryDirectory(prefix="dancu-protos-") as scratch:
        fresh = generate(Path(scratch), proto_root)
        target = gen_root / PACKAGE
        shutil.rmtree(target, ignore_errors=True)
        gen_root.mkdir(parents=True, exist_ok=True)
        shutil.copytree(fresh, target)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.protos_drift")
    parser.add_argument(
        "--write", action="store_true", help="regenerate protos/gen/dancu instead of checking it"
    )
    options = parser.parse_args(argv)
    if options.write:
        write()
        print(f"regenerated {(GEN_ROOT / PACKAGE).relative_to(REPO_ROOT)}")
        return 0
    drift = check()
    if drift:
        print("generated code differs from the protos; run `make protos` and commit:")
        for line in drift:
            print(f"  {line}")
        return 1
    print(f"protos/gen/{PACKAGE} matches the protos ({len(proto_files())} .proto files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
