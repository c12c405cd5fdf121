"""Benefit cases by state as a gauge. The counts are read from the database in the background
every ``REFRESH_SECONDS`` and the gauge reports the last reading, so a scrape never waits on a
query and scrapes from many collectors cost one query per period."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from opentelemetry import metrics
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.metrics import CallbackOptions, Observation
from sqlalchemy.ext.asyncio import AsyncEngine

from services.welfare.adapters.repository import count_cases_by_state
from services.welfare.domain.model import CaseState

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 30.0


@asynccontextmanager
async def observing_cases_by_state(
    engine: AsyncEngine,
    meter_provider: metrics.MeterProvider | None = None,
    refresh_seconds: float = REFRESH_SECONDS,
) -> AsyncIterator[None]:
    counts: dict[str, int] = {}

    async def refresh() -> None:
        while True:
            try:
                # A background query, not part of any call's trace.
                with suppress_instrumentation():
                    async with engine.connect() as conn:
                        fresh = await count_cases_by_state(conn)
                counts.update({state.name: fresh.get(state, 0) for state in CaseState})
            except Exception as error:
                # Serving goes on; the gauge keeps the last reading (or none yet).
                logger.warning("benefit case counts not read (%s)", type(error).__name__)
            await asyncio.sleep(refresh_seconds)

    def observe(_: CallbackOptions) -> Iterable[Observation]:
        return [Observation(count, {"state": state}) for state, count in counts.items()]

    metrics.get_meter(__name__, meter_provider=meter_provider).create_observable_gauge(
        "dancu.welfare.benefit_cases",
        callbacks=[observe],
        unit="{case}",
        description=f"Benefit cases by state, read every {REFRESH_SECONDS:.0f} s",
    )
    task = asyncio.create_task(refresh(), name="benefit-case-counts")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
