"""The drift check of the generated proto code notices every kind of difference."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support import protos_drift


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return protos_drift.generate(tmp_path_factory.mktemp("gen"))


def test_generation_covers_every_proto_with_all_four_outputs(generated: Path) -> None:
    for proto in protos_drift.proto_files():
        stem = proto.relative_to("dancu").with_suffix("")
        for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi"):
            assert (generated / f"{stem}{suffix}").is_file(), f"{stem}{suffix}"
        for package in [generated, *(generated / stem).parents]:
            if package.is_relative_to(generated):
                assert (package / "__init__.py").is_file()


def test_identical_trees_show_no_drift(generated: Path, tmp_path: Path) -> None:
    copy = tmp_path / "dancu"
    shutil.copytree(generated, copy)
    (copy / "registry" / "__pycache__").mkdir()
    (copy / "registry" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    assert protos_drift.differences(generated, copy) == []


def test_changed_missing_and_unexpected_files_are_each_reported(
    generated: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "dancu"
    shutil.copytree(generated, copy)
    changed = copy / "registry" / "v1" / "resident_pb2.py"
    changed.write_bytes(changed.read_bytes() + b"\n")
    (copy / "bench" / "v1" / "echo_service_pb2_grpc.pyi").unlink()
    (copy / "registry" / "v1" / "old_pb2.py").write_text("")

    assert protos_drift.differences(generated, copy) == [
        "missing:    bench/v1/echo_service_pb2_grpc.pyi",
        "unexpected: registry/v1/old_pb2.py",
        "differs:    registry/v1/resident_pb2.py",
    ]


def test_a_missing_generated_tree_is_all_drift(generated: Path, tmp_path: Path) -> None:
    drift = protos_drift.differences(generated, tmp_path / "absent")
    assert drift
    assert all(line.startswith("missing:") for line in drift)


def test_check_and_write_round_trip_on_a_scratch_tree(tmp_path: Path) -> None:
    gen_root = tmp_path / "gen"
    assert protos_drift.check(gen_root=gen_root)  # nothing generated there yet
    protos_drift.write(gen_root=gen_root)
    assert protos_drift.check(gen_root=gen_root) == []
