"""Household members of a new F0, proposed as F1 contacts.

Living together is close contact: when a resident becomes F0, everyone in their household (the
registry's hộ gia đình) is proposed as a contact on the day of confirmation, so tracing makes
them F1 without anyone having to enter the obvious.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from services.case_status.domain.model import Actor, ContactSetting, ExposureLink

NOTE = "household member of a confirmed case"


def propose_household_contacts(
    f0_id: str,
    confirmed_on: dt.date,
    living_members: Iterable[str],
    existing: Iterable[ExposureLink],
    recorded_by: Actor,
) -> tuple[ExposureLink, ...]:
    """One HOUSEHOLD link per living member, by citizen id; none for the F0 themself or for a
    member already linked to the F0 on that day (whatever the setting)."""
    known = {link.key for link in existing}
    proposals = {}
    for member in living_members:
        link = ExposureLink(
            contact_id=member,
            source_id=f0_id,
            contact_date=confirmed_on,
            setting=ContactSetting.HOUSEHOLD,
            recorded_by=recorded_by,
            note=NOTE,
        )
        if member != f0_id and link.key not in known:
            proposals[member] = link
    return tuple(proposals[member] for member in sorted(proposals))
