"""Lints the protos with buf (STANDARD rules, protos/buf.yaml) without reaching buf.build.

buf normally resolves ``google/type/date.proto`` from the BSR. Instead, protoc compiles the
protos with the include paths of ``make protos`` (see protos_drift) into a Buf-compatible
image (a FileDescriptorSet with imports and source info), and ``buf lint`` checks that image,
limited to the dancu/ files. buf itself comes from the npm registry through npx.

    python -m tests.support.buf_lint
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tests.support.protos_drift import PACKAGE, PROTO_ROOT, include_paths, proto_files

BUF_VERSION = "1.57.2"
CONFIG = PROTO_ROOT / "buf.yaml"


def build_image(image: Path, proto_root: Path = PROTO_ROOT) -> None:
    command = [sys.executable, "-m", "grpc_tools.protoc"]
    command += [f"-I{path}" for path in include_paths(proto_root)]
    command += ["--include_imports", "--include_source_info", f"--descriptor_set_out={image}"]
    command += [str(proto_root / path) for path in proto_files(proto_root)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"protoc failed with exit code {done.returncode}")


def buf_command(buf_version: str = BUF_VERSION) -> list[str]:
    npx = shutil.which("npx")
    if npx is None:
        raise SystemExit("npx not found: buf is run from the npm registry; install Node.js")
    return [npx, "--yes", f"@bufbuild/buf@{buf_version}"]


def lint(proto_root: Path = PROTO_ROOT, buf_version: str = BUF_VERSION) -> int:
    """Runs buf lint; returns its exit code (0 clean, 100 violations printed on stdout)."""
    with tempfile.TemporaryDirectory(prefix="dancu-buf-") as scratch:
        image = Path(scratch) / "image.binpb"
        build_image(image, proto_root)
        config = proto_root / CONFIG.name
        command = [*buf_command(buf_version), "lint", f"{image}#format=binpb"]
        command += ["--config", str(config), "--path", PACKAGE]
        return subprocess.run(command, check=False).returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.buf_lint")
    parser.add_argument("--buf-version", default=BUF_VERSION)
    options = parser.parse_args(argv)
    if shutil.which("npx") is None:
        # The test command must run where only Python, make and git exist; buf comes from the
        # npm registry, so without Node.js the lint is reported as not run rather than failed.
        print("buf lint: NOT RUN (Node.js/npx is not installed)")
        return 0
    code = lint(buf_version=options.buf_version)
    if code == 0:
        print(f"buf lint: {len(proto_files())} .proto files clean (STANDARD)")
    return code


if __name__ == "__main__":
    sys.exit(main())
