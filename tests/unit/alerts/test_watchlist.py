"""The in-memory watchlist converges on the table, whatever it is fed twice or late."""

from __future__ import annotations

import datetime as dt

from services.alerts.domain.model import Classification, WatchEntry
from services.alerts.domain.watchlist import Watchlist

T = dt.datetime(2021, 9, 16, tzinfo=dt.UTC)


def row(cid: str, level: Classification | None, seq: int) -> WatchEntry:
    return WatchEntry(cid, level, f"e{seq}", T, (), seq)


def test_flags_and_unflags_in_sequence_order() -> None:
    watchlist = Watchlist()

    applied = watchlist.apply(
        [row("a", Classification.F0, 1), row("b", Classification.F1, 2), row("a", None, 3)]
    )

    assert applied == 3
    assert watchlist.get("a") is None
    entry = watchlist.get("b")
    assert entry is not None
    assert entry.level is Classification.F1
    assert (len(watchlist), watchlist.last_seq) == (1, 3)


def test_rows_seen_before_are_ignored() -> None:
    watchlist = Watchlist()
    watchlist.apply([row("a", Classification.F0, 5)])

    # An overlapping catch-up brings an older state of "a" back: it must not win.
    assert watchlist.apply([row("a", None, 4), row("a", Classification.F0, 5)]) == 0

    assert watchlist.get("a") is not None
    assert watchlist.last_seq == 5
