"""The watchlist as metrics: how many residents this replica holds as flagged, and how long
ago it last caught up with the table (its staleness bound, see use_cases/watchlist)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from services.alerts.domain.watchlist import Watchlist
from services.alerts.use_cases.watchlist import WatchlistFollower


def observe_watchlist(
    watchlist: Watchlist,
    follower: WatchlistFollower,
    meter_provider: metrics.MeterProvider | None = None,
) -> None:
    meter = metrics.get_meter(__name__, meter_provider=meter_provider)

    def entries(_: CallbackOptions) -> Iterable[Observation]:
        return [Observation(len(watchlist))]

    def age(_: CallbackOptions) -> Iterable[Observation]:
        if follower.caught_up_at is None:
            return []
        return [Observation(time.monotonic() - follower.caught_up_at)]

    meter.create_observable_gauge(
        "dancu.watchlist.entries",
        callbacks=[entries],
        unit="{resident}",
        description="Flagged residents in this replica's in-memory watchlist",
    )
    meter.create_observable_gauge(
        "dancu.watchlist.age",
        callbacks=[age],
        unit="s",
        description="Seconds since this replica's watchlist last caught up with the database",
    )
