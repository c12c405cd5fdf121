"""Keeping a replica's watchlist current: load it, then follow the table's change sequence.

Staleness bound: a change committed at time t is in every replica's memory by
t + ``poll_seconds`` + the time of one catch-up query. The replica that applied the change is
current before that call returns. The sequence numbers are taken under the feeds' lock, in
commit order, so following "above the highest number seen" never skips a change.
"""

from __future__ import annotations

import asyncio
import logging
import time

from opentelemetry.instrumentation.utils import suppress_instrumentation

from services.alerts.domain.watchlist import Watchlist
from services.alerts.ports import WatchlistSource

logger = logging.getLogger(__name__)

CATCH_UP_BATCH = 5000


class WatchlistFollower:
    def __init__(self, source: WatchlistSource, watchlist: Watchlist, poll_seconds: float) -> None:
        self._source = source
        self._watchlist = watchlist
        self._poll_seconds = poll_seconds
        # One catch-up at a time: concurrent ones would only read the same rows twice.
        self._catching_up = asyncio.Lock()
        # Instruments: catch-up queries run and rows applied.
        self.polls = 0
        self.applied = 0
        # When (time.monotonic()) the last catch-up finished: how stale the watchlist may be.
        self.caught_up_at: float | None = None

    async def catch_up(self) -> int:
        """Applies every change committed so far; returns how many."""
        async with self._catching_up:
            return await self._catch_up()

    async def _catch_up(self) -> int:
        applied = 0
        while True:
            self.polls += 1
            changes = await self._source.changes_after(self._watchlist.last_seq, CATCH_UP_BATCH)
            applied += self._watchlist.apply(changes)
            if len(changes) < CATCH_UP_BATCH:
                break
        self.applied += applied
        self.caught_up_at = time.monotonic()
        return applied

    async def run(self) -> None:
        """Catches up every ``poll_seconds`` until cancelled; a failed query is logged and
        retried at the next poll, serving meanwhile from what is in memory."""
        while True:
            await asyncio.sleep(self._poll_seconds)
            try:
                # A poll every fraction of a second would be a trace of its own each time.
                with suppress_instrumentation():
                    await self.catch_up()
            except Exception:
                logger.exception("watchlist catch-up failed; serving the last known watchlist")
