"""What goes in and out of the residence-change propagation."""

from __future__ import annotations

from dataclasses import dataclass, field

WORKFLOW = "ResidenceChangePropagation"


@dataclass
class Redirected:
    """What ``redirect_alerts`` did."""

    # False: the resident is not flagged, so no warning goes anywhere.
    flagged: bool
    # The wards alerted because the flagged resident moved into them.
    alerted_wards: list[str] = field(default_factory=list)


@dataclass
class ResidenceChangePropagated:
    event_id: str
    citizen_id: str
    # Case status holds the resident (its residence snapshot was refreshed).
    case_status_refreshed: bool
    # The resident is flagged in alerts (their warnings now go to where they live).
    flagged: bool
    # The wards alerted because the flagged resident moved into them.
    alerted_wards: list[str] = field(default_factory=list)
