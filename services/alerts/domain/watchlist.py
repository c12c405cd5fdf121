"""The in-memory watchlist a replica answers scans from.

The database's ``watchlist`` table is the truth; every change of a row takes the next value of
one change sequence. A replica loads the table and then applies the rows whose sequence is
above the highest it has seen, so it converges on the table however often it polls.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.alerts.domain.model import WatchEntry


class Watchlist:
    def __init__(self) -> None:
        self._flagged: dict[str, WatchEntry] = {}
        self.last_seq = 0

    def get(self, citizen_id: str) -> WatchEntry | None:
        return self._flagged.get(citizen_id)

    def apply(self, entries: Iterable[WatchEntry]) -> int:
        """Applies changed rows (in sequence order); returns how many were applied."""
        applied = 0
        for entry in entries:
            if entry.change_seq <= self.last_seq:
                continue
            if entry.level is None:
                self._flagged.pop(entry.citizen_id, None)
            else:
                self._flagged[entry.citizen_id] = entry
            self.last_seq = entry.change_seq
            applied += 1
        return applied

    def __len__(self) -> int:
        return len(self._flagged)
