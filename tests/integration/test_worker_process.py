"""``python -m workflows`` refuses to start with one line and exit code 2 when its settings
are incomplete or Temporal cannot be reached, never with a stack trace."""

from __future__ import annotations

import os
import socket
import subprocess
import sys


def _run_worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DANCU_")}
    return subprocess.run(
        [sys.executable, "-m", "workflows"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_worker_without_its_token_says_so() -> None:
    finished = _run_worker({})
    assert finished.returncode == 2
    assert finished.stderr.strip().splitlines() == [
        "workflows: cannot start: DANCU_WORKFLOWS_TOKEN is required"
    ]


def test_a_worker_that_cannot_reach_temporal_says_where_it_looked() -> None:
    address = f"127.0.0.1:{_closed_port()}"
    finished = _run_worker({"DANCU_WORKFLOWS_TOKEN": "t", "DANCU_TEMPORAL_ADDRESS": address})
    assert finished.returncode == 2
    [line] = [line for line in finished.stderr.splitlines() if "cannot start" in line]
    assert line.startswith("workflows: cannot start: Failed client connect")
    assert address in line
    assert "Traceback" not in finished.stderr
