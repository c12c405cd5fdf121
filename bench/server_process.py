"""A benchmark's servers in a process of their own, so the load generator does not share
their event loop or interpreter lock. The process prints ``READY <port>`` once it serves and,
on SIGTERM, whatever it measured on its way out.

Both halves are here: ``start_server_process`` (the benchmark's side) and
``serve_until_stopped`` (the server process's side), with the signals between them."""

from __future__ import annotations

import asyncio
import cProfile
import dataclasses
import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.kit.auth import TokenVerifier
    from services.kit.server import Server

ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 120.0
PROFILE_SECONDS = 60.0
# Carries the PEM public key of the benchmark's token issuer to the server process.
PUBLIC_KEY_ENV = "BENCH_AUTH_PUBLIC_KEY"
# The server's profiler: on between these two signals (see ``serve_until_stopped``).
START_PROFILING = signal.SIGUSR1
STOP_PROFILING = signal.SIGUSR2
PROFILED = b"PROFILED"


@dataclasses.dataclass
class ServerProcess:
    process: asyncio.subprocess.Process
    port: int

    @property
    def pid(self) -> int:
        return self.process.pid

    def start_profiling(self) -> None:
        self.process.send_signal(START_PROFILING)

    async def stop_profiling(self) -> None:
        """Stops the server's profiler and waits until it has written its stats."""
        assert self.process.stdout is not None
        self.process.send_signal(STOP_PROFILING)
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout=PROFILE_SECONDS)
        if line.strip() != PROFILED:
            raise RuntimeError(f"the server did not write its profile: {line!r}")

    async def stop(self, grace_seconds: float = 60.0) -> list[str]:
        """Stops the process (SIGTERM, then SIGKILL); the lines it printed on its way out."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout=grace_seconds)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        assert self.process.stdout is not None
        return (await self.process.stdout.read()).decode().splitlines()


async def start_server_process(command: Sequence[str], env: Mapping[str, str]) -> ServerProcess:
    process = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), timeout=START_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise RuntimeError("the benchmark server did not start in time") from None
    if not line.startswith(b"READY "):
        await process.wait()
        raise RuntimeError(f"the benchmark server failed to start (exit {process.returncode})")
    return ServerProcess(process, int(line.split()[1]))


def verifier_from_env() -> TokenVerifier:
    """The server process's token verifier, with the key the benchmark passed it."""
    from services.kit.auth import TokenVerifier

    return TokenVerifier(os.environ[PUBLIC_KEY_ENV].encode())


async def serve_until_stopped(server: Server, profile_path: str | None = None) -> None:
    """Starts ``server``, prints ``READY <port>`` and serves until SIGTERM or SIGINT.

    With ``profile_path``, cProfile runs between ``START_PROFILING`` and ``STOP_PROFILING``,
    which writes the stats to ``profile_path`` and prints ``PROFILED``: the benchmark profiles
    the one run it cares about, not the warm-ups and echo runs around it.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if profile_path:
        profiler = cProfile.Profile()
        loop.add_signal_handler(START_PROFILING, profiler.enable)
        loop.add_signal_handler(STOP_PROFILING, dump_profile, profiler, profile_path)
    await server.start()
    print(f"READY {server.port}", flush=True)
    await stop.wait()
    await server.stop(2.0)


def dump_profile(profiler: cProfile.Profile, path: str) -> None:
    """Stops ``profiler``, writes its stats to ``path`` and prints ``PROFILED``."""
    profiler.disable()
    profiler.dump_stats(path)
    print(PROFILED.decode(), flush=True)
