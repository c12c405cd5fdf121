"""Runs the suite's processes on one machine and stops them together.

Each service is a child process (``python -m services.<name>``), as in a deployment; the
supervisor waits for each to report SERVING on the standard health service before declaring
the suite up, and on Ctrl-C or SIGTERM stops them all (SIGTERM, then SIGKILL after a grace).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


@dataclass
class Child:
    name: str
    # Where its gRPC health service answers; empty for a process that serves nothing (the
    # worker), which counts as up while it runs.
    address: str
    env: Mapping[str, str]
    # Default: the service of that name (``python -m services.<name>``).
    command: Sequence[str] = ()
    process: subprocess.Popen[bytes] | None = field(default=None)

    def start(self) -> None:
        if self.address and not _free(self.address):
            # Checked first: another server there would answer the health check in its place.
            raise PortTaken(f"{self.name}: {self.address} is already in use")
        command = list(self.command) or [sys.executable, "-m", f"services.{self.name}"]
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and binaries
            command, env={**os.environ, **self.env}
        )

    def stop(self, grace: float) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class PortTaken(Exception):
    pass


def _free(address: str) -> bool:
    host, _, port = address.rpartition(":")
    with socket.socket() as probe:
        try:
            probe.bind((host, int(port)))
        except OSError:
            return False
    return True


async def wait_serving(child: Child, within_seconds: float = 30.0) -> None:
    deadline = time.monotonic() + within_seconds
    if not child.address:
        return
    async with grpc.aio.insecure_channel(child.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            if child.process is not None and child.process.poll() is not None:
                raise RuntimeError(f"{child.name} exited with code {child.process.returncode}")
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{child.name} did not become healthy within {within_seconds:.0f}s"
                )
            await asyncio.sleep(0.2)


def run_until_signalled(children: list[Child], on_ready: Callable[[], None] | None = None) -> int:
    """Starts children, waits until healthy, blocks until a signal or a child dies."""
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        # In order, each up before the next starts: the services relay to Temporal and the
        # worker calls the services.
        for child in children:
            try:
                child.start()
            except PortTaken as taken:
                print(f"cannot start: {taken} (its DANCU_*_PORT setting moves it)", file=sys.stderr)
                return 1
            asyncio.run(wait_serving(child))
        if on_ready is not None:
            on_ready()
        while not stopping:
            for child in children:
                assert child.process is not None
                if child.process.poll() is not None:
                    print(f"{child.name} exited with code {child.process.returncode}; stopping")
                    return 1
            time.sleep(0.5)
        return 0
    finally:
        for child in reversed(children):
            child.stop(grace=15.0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
