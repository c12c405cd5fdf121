"""Epidemic zones: declare, end, and list who lives in one with their current level.

Who lives in a zone is the registry's to say: the residents of each zone ward (permanent or
active temporary residence) are paged from the registry's SearchResidents with this service's
token, ward after ward, and each registry page is joined with the current statuses of its
residents in one query. A page token therefore holds the position in the zone's wards and the
registry's own page token for that ward. A resident living in two wards of the same zone (one
permanent, one temporary) is listed once per ward.

A ward-scoped caller (ward police) lists only the zone wards that are also theirs; a zone with
none of their wards is refused (OUT_OF_JURISDICTION).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from services.case_status.domain.model import Classification
from services.case_status.domain.zones import Zone, end_zone, validate_declaration
from services.case_status.ports import ResidenceKind, ResultEncoder
from services.case_status.use_cases import (
    CaseStatusService,
    _actor,
    _replay,
    _transaction,
)
from services.kit.audit import AuditEvent
from services.kit.auth import Identity
from services.kit.errors import FieldViolation, Forbidden, InvalidInput, NotFound
from services.kit.pagination import PageRequest
from services.kit.request_ids import IdempotencyKey, StoredResponse

ZONE = "zone"
RESIDENT = "case"
# The registry's page cap.
REGISTRY_PAGE_MAX = 200


@dataclass(frozen=True)
class ZoneResident:
    citizen_id: str
    ward_code: str
    kind: ResidenceKind
    # None when the resident is not a case or contact.
    classification: Classification | None


@dataclass(frozen=True)
class ZonePage:
    residents: tuple[ZoneResident, ...]
    # Where the next page starts (ward index, registry page token); None on the last page.
    after: tuple[int, str] | None


def new_zone_id() -> str:
    return str(uuid.uuid4())


async def declare_zone(
    svc: CaseStatusService,
    identity: Identity,
    zone: Zone,
    key: IdempotencyKey,
    encode: ResultEncoder[Zone],
) -> Zone | StoredResponse:
    """Stores ``zone`` (its id assigned by the caller's adapter)."""
    zone = dataclasses.replace(
        zone, name=zone.name.strip(), reason=zone.reason.strip(), end_reason=""
    )
    validate_declaration(zone, svc.ward_exists)
    method = "DeclareZone"
    async with _transaction(svc, identity, method, [zone.zone_id], key.request_id) as uow:
        # A replay names no zone: this attempt's id was never stored (the first one was).
        replayed = await _replay(uow, method, key, [])
        if replayed is not None:
            return replayed
        await uow.cases.add_zone(zone, _actor(identity))
        await uow.complete(key, encode(zone))
        await uow.audit(AuditEvent(method, ZONE, (zone.zone_id,), "ok", key.request_id))
        await uow.commit()
        return zone


async def end_zone_now(
    svc: CaseStatusService,
    identity: Identity,
    zone_id: str,
    end_at: dt.datetime | None,
    reason: str,
    key: IdempotencyKey,
    encode: ResultEncoder[Zone],
) -> Zone | StoredResponse:
    """Ends the zone at ``end_at`` (unset: now)."""
    _check_zone_id(zone_id)
    method = "EndZone"
    async with _transaction(svc, identity, method, [zone_id], key.request_id) as uow:
        replayed = await _replay(uow, method, key, [zone_id])
        if replayed is not None:
            return replayed
        zone = await uow.cases.zone(zone_id, for_update=True)
        if zone is None:
            raise NotFound("ZONE_NOT_FOUND", "no such zone")
        ended = end_zone(zone, end_at or svc.clock.now(), reason)
        await uow.cases.save_zone_end(ended)
        await uow.complete(key, encode(ended))
        await uow.audit(AuditEvent(method, ZONE, (zone_id,), "ok", key.request_id))
        await uow.commit()
        return ended


def _check_zone_id(zone_id: str) -> None:
    try:
        uuid.UUID(zone_id)
    except ValueError:
        raise InvalidInput(
            [FieldViolation("zone_id", "ZONE_ID_INVALID", "is not a zone id")]
        ) from None


def _position(after: tuple[Any, ...] | None, ward_count: int) -> tuple[int, str]:
    if after is None:
        return 0, ""
    match after:
        case (int() as index, str() as token) if 0 <= index < ward_count:
            return index, token
    raise InvalidInput(
        [FieldViolation("page_token", "PAGE_TOKEN_INVALID", "is not a token this API issued")]
    )


async def list_residents_in_zone(
    svc: CaseStatusService, identity: Identity, zone_id: str, page: PageRequest
) -> ZonePage:
    _check_zone_id(zone_id)
    method = "ListResidentsInZone"
    # The zone is read in a transaction of its own: no connection waits on the registry.
    async with _transaction(svc, identity, method, [zone_id]) as uow:
        zone = await uow.cases.zone(zone_id)
        if zone is None:
            raise NotFound("ZONE_NOT_FOUND", "no such zone")
        wards = [w for w in zone.ward_codes if identity.sees_ward(w)]
        if not wards:
            raise Forbidden("OUT_OF_JURISDICTION", "the zone has none of your wards")
    index, token = _position(page.after, len(wards))
    listed: list[tuple[str, str, ResidenceKind]] = []
    while index < len(wards) and len(listed) < page.size:
        ward = wards[index]
        found = await svc.registry.residents_in_ward(
            ward, min(page.size - len(listed), REGISTRY_PAGE_MAX), token
        )
        listed.extend((r.citizen_id, ward, r.kind) for r in found.residents)
        if found.next_page_token:
            token = found.next_page_token
        else:
            index, token = index + 1, ""
    ids = tuple(dict.fromkeys(cid for cid, _, _ in listed))
    async with _transaction(svc, identity, method, [zone_id]) as uow:
        # One query for the whole page (current_status is written with every event).
        levels = await uow.cases.current_levels(ids)
        await uow.audit(AuditEvent(method, RESIDENT, (zone_id, *ids), "ok"))
        await uow.commit()
    residents = tuple(ZoneResident(cid, ward, kind, levels.get(cid)) for cid, ward, kind in listed)
    return ZonePage(residents, (index, token) if index < len(wards) else None)
