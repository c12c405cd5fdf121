"""What goes in and out of the status-change propagation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WORKFLOW = "StatusChangePropagation"


@dataclass
class OutboxEvent:
    """An outbox row as the relay hands it over (services.kit.outbox_relay.OutboxEvent)."""

    event_id: str
    event_type: str
    aggregate_id: str
    payload: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""


@dataclass
class Delivered:
    """What ``deliver_to_alerts`` did."""

    already_applied: bool
    wards: list[str]
    # Seconds from the change's commit to the watchlist holding it.
    lag_seconds: float


@dataclass
class Propagated:
    event_id: str
    citizen_id: str
    wards: list[str]
    already_applied: bool
    lag_seconds: float
    # FOLLOWING (the isolation follow-up waits for the period's end), STOPPED (no period any
    # more) or "" (the event does not touch isolation).
    isolation: str = ""
