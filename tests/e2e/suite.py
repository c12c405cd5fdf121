"""Starting the suite as processes, as the run command does, for the end-to-end tests.

``running_suite`` starts ``dancu start --demo`` with an embedded PostgreSQL in a fresh home and
free ports, waits until it prints that it is up, and stops it with SIGINT afterwards.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

GRPCURL = Path(sys.executable).parent / "grpcurl"
STARTUP_SECONDS = 180


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Suite:
    def __init__(
        self,
        process: subprocess.Popen[str],
        home: Path,
        env: dict[str, str],
    ) -> None:
        self.process = process
        self.home = home
        # The environment the suite runs with: its home and ports, for commands run against it.
        self.env = env
        self.address = f"127.0.0.1:{env['DANCU_REGISTRY_PORT']}"
        self.case_status = f"127.0.0.1:{env['DANCU_CASE_STATUS_PORT']}"
        self.alerts = f"127.0.0.1:{env['DANCU_ALERTS_PORT']}"
        self.welfare = f"127.0.0.1:{env['DANCU_WELFARE_PORT']}"
        self.output: list[str] = []

    def wait_until_up(self) -> None:
        assert self.process.stdout is not None
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                if self.process.poll() is not None:
                    break
                continue
            self.output.append(line)
            if "Ctrl-C stops everything" in line:
                return
        pytest.fail("the suite did not come up:\n" + "".join(self.output[-40:]))

    def grpcurl(self, *args: str, token: str | None = None) -> str:
        headers = ["-H", f"authorization: Bearer {token}"] if token else []
        result = subprocess.run(
            [str(GRPCURL), "-plaintext", *headers, *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def dancu(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Runs a ``dancu`` command against this suite (its home, tokens and ports)."""
        return subprocess.run(
            [sys.executable, "-m", "services.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@contextmanager
def running_suite(home: Path, population: int) -> Iterator[Suite]:
    env = {
        **os.environ,
        "DANCU_HOME": str(home),
        "DANCU_REGISTRY_PORT": str(free_port()),
        "DANCU_CASE_STATUS_PORT": str(free_port()),
        "DANCU_ALERTS_PORT": str(free_port()),
        "DANCU_WELFARE_PORT": str(free_port()),
        "DANCU_TEMPORAL_PORT": str(free_port()),
        "DANCU_TEMPORAL_UI_PORT": str(free_port()),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DANCU_DATABASE_SERVER_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "start", "--demo", "--population", str(population)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Suite(process, home, env)
    try:
        running.wait_until_up()
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
