"""Temporal provider for tests: the time-skipping test server (timers) and the dev server
(end to end), both from the project's packages, started on a free port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio.testing import WorkflowEnvironment

from services.kit.temporal import dev_server_path, test_server_path


@asynccontextmanager
async def time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=test_server_path()
    )
    try:
        yield env
    finally:
        await env.shutdown()


@asynccontextmanager
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=dev_server_path())
    try:
        yield env
    finally:
        await env.shutdown()
