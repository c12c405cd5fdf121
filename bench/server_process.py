"""A benchmark's servers in a process of their own, so the load generator does not share
their event loop or interpreter lock. The process prints ``READY <port>`` once it serves and,
on SIGTERM, whatever it measured on its way out."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 120.0


@dataclasses.dataclass
class ServerProcess:
    process: asyncio.subprocess.Process
    port: int

    @property
    def pid(self) -> int:
        return self.process.pid

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
