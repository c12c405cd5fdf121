"""The watchlist's gauges: entries held in memory, and the age of the last catch-up."""

from __future__ import annotations

import datetime as dt

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from services.alerts.adapters.watchlist_metrics import observe_watchlist
from services.alerts.domain.model import Classification, WatchEntry
from services.alerts.domain.watchlist import Watchlist
from services.alerts.use_cases.watchlist import WatchlistFollower
from tests.support.metrics import points

T = dt.datetime(2021, 9, 16, tzinfo=dt.UTC)


class Table:
    def __init__(self, entries: list[WatchEntry]) -> None:
        self.entries = entries

    async def changes_after(self, change_seq: int, limit: int) -> list[WatchEntry]:
        return [e for e in self.entries if e.change_seq > change_seq][:limit]


async def test_the_gauges_report_flagged_entries_and_the_age_of_the_last_catch_up() -> None:
    reader = InMemoryMetricReader()
    watchlist = Watchlist()
    table = Table([WatchEntry(f"r{n}", Classification.F1, f"e{n}", T, (), n) for n in (1, 2, 3)])
    follower = WatchlistFollower(table, watchlist, poll_seconds=60)
    observe_watchlist(watchlist, follower, MeterProvider(metric_readers=[reader]))

    # Before the first catch-up the age is unknown, not zero.
    assert points(reader, "dancu.watchlist.age") == []
    await follower.catch_up()
    table.entries.append(WatchEntry("r1", None, "e4", T, (), 4))
    await follower.catch_up()

    [entries] = points(reader, "dancu.watchlist.entries")
    [age] = points(reader, "dancu.watchlist.age")
    assert entries.value == 2
    assert 0 <= age.value < 5
