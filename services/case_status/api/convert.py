"""Protobuf messages to domain values and domain values to messages."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from dancu.case_status.v1 import case_pb2 as cpb
from dancu.case_status.v1 import case_status_service_pb2 as pb

from services.case_status.domain.imports import (
    ImportHeader,
    ImportSummary,
    RowOutcome,
    RowResult,
    SubmittedRow,
)
from services.case_status.domain.model import (
    Actor,
    Care,
    CareSetting,
    CaseStatus,
    Classification,
    ContactSetting,
    ExposureLink,
    HealthCondition,
    Outcome,
    Source,
    StatusEvent,
    TimelineEntry,
)
from services.case_status.domain.zones import Zone
from services.case_status.ports import CaseQuery, WardRole
from services.case_status.use_cases import CaseView, ContactsRecorded, Recorded, Trace
from services.case_status.use_cases.listing import CasePage, Count
from services.case_status.use_cases.staged_imports import ChunkApplied
from services.case_status.use_cases.zones import ZonePage
from services.kit.errors import FieldViolation, InvalidInput
from services.kit.protoconv import date_to_proto, timestamp_from_proto, timestamp_to_proto
from services.kit.request_reading import FieldReader


def _wire(value: enum.IntEnum | None) -> Any:
    """The proto enum number of a domain enum (numbered alike); 0 (UNSPECIFIED) for None."""
    return 0 if value is None else int(value)


def status_event(
    request: pb.RecordStatusRequest, event_id: str, now: dt.datetime, actor: Actor
) -> StatusEvent:
    """The event to record; the server sets its id, record time and recorder."""
    read = FieldReader()
    msg = request.event
    effective_at = timestamp_from_proto(msg.effective_time)
    read.violations.check(
        effective_at is not None, "event.effective_time", "TIME_REQUIRED", "is required"
    )
    care = None
    if msg.HasField("care"):
        setting = read.enum(msg.care.setting, CareSetting, "event.care.setting")
        read.violations.check(
            msg.care.setting != 0, "event.care.setting", "SETTING_REQUIRED", "is required"
        )
        if setting is not None:
            care = Care(setting, msg.care.ward_code.strip(), msg.care.facility.strip())
    event = StatusEvent(
        event_id=event_id,
        citizen_id=msg.citizen_id.strip(),
        effective_at=effective_at or now,
        recorded_at=now,
        source=Source(
            msg.source.agency.strip(), msg.source.list_id.strip(), msg.source.report_ref.strip()
        ),
        recorded_by=actor,
        classification=read.enum(msg.classification, Classification, "event.classification"),
        outcome=read.enum(msg.outcome, Outcome, "event.outcome"),
        care=care,
        condition=read.enum(msg.condition, HealthCondition, "event.condition"),
        reason=msg.reason.strip(),
        corrects_event_id=msg.corrects_event_id.strip() or None,
    )
    read.violations.raise_if_any()
    return event


def exposure_links(
    request: pb.RecordContactsRequest, actor: Actor, today: dt.date
) -> tuple[list[ExposureLink], tuple[FieldViolation, ...]]:
    """The links, one per entry (a bad enum or date read as a placeholder), and the problems
    found reading them: the use case adds its own, so the caller learns of all at once."""
    read = FieldReader()
    links = []
    for i, msg in enumerate(request.links):
        setting = read.enum(msg.setting, ContactSetting, f"links[{i}].setting")
        read.violations.check(
            msg.setting != 0, f"links[{i}].setting", "SETTING_REQUIRED", "is required"
        )
        day = read.date(msg.contact_date, f"links[{i}].contact_date", required=True)
        links.append(
            ExposureLink(
                contact_id=msg.contact_citizen_id.strip(),
                source_id=msg.source_citizen_id.strip(),
                contact_date=day or today,
                setting=setting or ContactSetting.OTHER,
                recorded_by=actor,
                note=msg.note.strip(),
            )
        )
    try:
        read.violations.raise_if_any()
    except InvalidInput as problems:
        return links, problems.violations
    return links, ()


def event_message(entry: TimelineEntry) -> cpb.StatusEvent:
    event = entry.event
    msg = cpb.StatusEvent(
        event_id=event.event_id,
        citizen_id=event.citizen_id,
        episode_id=entry.episode_id or "",
        effective_time=timestamp_to_proto(event.effective_at),
        record_time=timestamp_to_proto(event.recorded_at),
        classification=_wire(event.classification),
        outcome=_wire(event.outcome),
        condition=_wire(event.condition),
        source=cpb.Source(
            agency=event.source.agency,
            list_id=event.source.list_id,
            report_ref=event.source.report_ref,
        ),
        reason=event.reason,
        corrects_event_id=event.corrects_event_id or "",
        superseded_by_event_id=entry.superseded_by or "",
        recorded_by=cpb.Actor(subject=event.recorded_by.subject, agency=event.recorded_by.agency),
    )
    if event.care is not None:
        msg.care.CopyFrom(_care(event.care))
    return msg


def _care(care: Care) -> cpb.Care:
    return cpb.Care(setting=_wire(care.setting), ward_code=care.ward_code, facility=care.facility)


def case_status(case: CaseView) -> cpb.CaseStatus:
    status = case.status
    episode = status.episode
    msg = cpb.CaseStatus(
        citizen_id=status.citizen_id,
        classification=_wire(status.classification),
        level_origin=_wire(status.origin),
        derived_from_citizen_id=case.derived_from,
        derived_distance=case.derived_distance,
        outcome=_wire(status.outcome),
        condition=_wire(status.condition),
        episode_id=episode.episode_id if episode else "",
        isolation_end=date_to_proto(status.isolation_end),
        as_of_time=timestamp_to_proto(status.as_of),
    )
    if status.care is not None:
        msg.care.CopyFrom(_care(status.care))
    return msg


def record_status_response(result: Recorded) -> pb.RecordStatusResponse:
    return pb.RecordStatusResponse(
        event=event_message(result.entry), status=case_status(result.case)
    )


def get_case_status_response(case: CaseView) -> pb.GetCaseStatusResponse:
    return pb.GetCaseStatusResponse(
        status=case_status(case),
        timeline=[event_message(entry) for entry in _by_effective_time(case.status)],
    )


def _by_effective_time(status: CaseStatus) -> list[TimelineEntry]:
    return sorted(
        status.timeline,
        key=lambda e: (e.event.effective_at, e.event.recorded_at, e.event.event_id),
    )


def record_contacts_response(result: ContactsRecorded) -> pb.RecordContactsResponse:
    return pb.RecordContactsResponse(
        recorded=result.recorded,
        changes=[
            pb.LevelChange(
                citizen_id=change.citizen_id, before=_wire(change.before), after=_wire(change.after)
            )
            for change in result.changes
        ],
    )


def trace_response(trace: Trace) -> pb.TraceContactsResponse:
    hidden = trace.pseudonyms
    nodes = []
    for node in trace.graph.nodes:
        if node.citizen_id in hidden:
            nodes.append(
                pb.ContactNode(
                    citizen_id=hidden[node.citizen_id],
                    distance=node.distance,
                    outside_caller_wards=True,
                )
            )
            continue
        status = trace.statuses[node.citizen_id]
        nodes.append(
            pb.ContactNode(
                citizen_id=node.citizen_id,
                classification=_wire(status.classification),
                level_origin=_wire(status.origin),
                distance=node.distance,
            )
        )
    return pb.TraceContactsResponse(
        nodes=nodes,
        edges=[
            cpb.ExposureLink(
                contact_citizen_id=hidden.get(link.contact_id, link.contact_id),
                source_citizen_id=hidden.get(link.source_id, link.source_id),
                contact_date=date_to_proto(link.contact_date),
                setting=_wire(link.setting),
                # A note may name the person behind a pseudonym.
                note="" if {link.contact_id, link.source_id} & hidden.keys() else link.note,
            )
            for link in trace.graph.links
        ],
    )


def zone_declaration(request: pb.DeclareZoneRequest, zone_id: str, now: dt.datetime) -> Zone:
    """The declared zone with its assigned id; an unset start time means now."""
    given = request.zone
    return Zone(
        zone_id=zone_id,
        name=given.name,
        ward_codes=tuple(w.strip() for w in given.ward_codes),
        start_at=timestamp_from_proto(given.start_time) or now,
        end_at=timestamp_from_proto(given.end_time),
        reason=given.reason,
    )


def zone_message(zone: Zone) -> cpb.Zone:
    return cpb.Zone(
        zone_id=zone.zone_id,
        name=zone.name,
        ward_codes=list(zone.ward_codes),
        start_time=timestamp_to_proto(zone.start_at),
        end_time=timestamp_to_proto(zone.end_at),
        reason=zone.reason,
    )


def zone_residents_response(page: ZonePage, next_page_token: str) -> pb.ListResidentsInZoneResponse:
    return pb.ListResidentsInZoneResponse(
        residents=[
            pb.ZoneResident(
                citizen_id=r.citizen_id,
                ward_code=r.ward_code,
                residence_kind=_wire(r.kind),
                classification=_wire(r.classification),
            )
            for r in page.residents
        ],
        next_page_token=next_page_token,
    )


def case_query(request: pb.ListCasesRequest) -> CaseQuery:
    """The filters of a ListCases request; unreadable ones are INVALID_ARGUMENT."""
    read = FieldReader()
    classification = read.enum(request.classification, Classification, "classification")
    care_setting = read.enum(request.care_setting, CareSetting, "care_setting")
    role = WardRole.ANY
    if request.ward_role:
        try:
            role = WardRole(request.ward_role)
        except ValueError:
            read.violations.add("ward_role", "ENUM_UNKNOWN", "is not a known value")
    ward = request.ward_code.strip() or None
    if ward is None and request.ward_role:
        read.violations.add("ward_code", "WARD_REQUIRED", "a ward role needs a ward_code")
    read.violations.raise_if_any()
    return CaseQuery(
        ward_code=ward,
        role=role,
        classifications=frozenset({classification}) if classification else frozenset(),
        care_setting=care_setting,
    )


def list_cases_response(page: CasePage, next_page_token: str) -> pb.ListCasesResponse:
    return pb.ListCasesResponse(
        cases=[case_status(case) for case in page.cases], next_page_token=next_page_token
    )


def count_cases_response(counts: list[Count]) -> pb.CountCasesResponse:
    return pb.CountCasesResponse(
        counts=[
            pb.CaseCount(
                province_code=c.province_code,
                ward_code=c.ward_code,
                classification=_wire(c.classification),
                count=c.count,
            )
            for c in counts
        ]
    )


# --- daily list imports ----------------------------------------------------------------------


def _date_or_problem(value: Any) -> tuple[dt.date | None, bool]:
    """(date, readable): an unset date (all zero) is None and readable."""
    if not (value.year or value.month or value.day):
        return None, True
    try:
        return dt.date(value.year, value.month, value.day), True
    except ValueError:
        return None, False


def _enum_or_problem(value: int, kind: Any) -> tuple[Any, bool]:
    if value == 0:
        return None, True
    try:
        return kind(value), True
    except ValueError:
        return None, False


def import_header(msg: pb.ImportHeader) -> ImportHeader:
    list_date, readable = _date_or_problem(msg.list_date)
    if not readable:
        raise InvalidInput(
            [FieldViolation("header.list_date", "DATE_INVALID", "is not a calendar date")]
        )
    return ImportHeader(
        msg.request_id.strip(), msg.list_id.strip(), list_date, msg.ward_code.strip()
    )


def import_row(msg: pb.ImportRow) -> SubmittedRow:
    """The row as sent; a field that cannot be read at all makes the row REJECTED (its reason
    in ``unreadable``), never the whole import."""
    problems: list[str] = []
    birth_date, ok = _date_or_problem(msg.birth_date)
    if not ok:
        problems.append("BIRTH_DATE_INVALID")
    effective_date, ok = _date_or_problem(msg.effective_date)
    if not ok:
        problems.append("EFFECTIVE_DATE_INVALID")
    classification, ok = _enum_or_problem(msg.classification, Classification)
    if not ok:
        problems.append("CLASSIFICATION_UNKNOWN")
    condition, ok = _enum_or_problem(msg.condition, HealthCondition)
    if not ok:
        problems.append("CONDITION_UNKNOWN")
    care = None
    if msg.HasField("care"):
        setting, ok = _enum_or_problem(msg.care.setting, CareSetting)
        if not ok or setting is None:
            problems.append("CARE_SETTING_UNKNOWN")
        else:
            care = Care(setting, msg.care.ward_code.strip(), msg.care.facility.strip())
    return SubmittedRow(
        row_number=msg.row_number,
        citizen_id=msg.citizen_id.strip(),
        full_name=" ".join(msg.full_name.split()),
        birth_date=birth_date,
        ward_code=msg.ward_code.strip(),
        street=msg.street.strip(),
        classification=classification,
        effective_date=effective_date,
        care=care,
        condition=condition,
        unreadable=problems[0] if problems else "",
    )


def import_summary(summary: ImportSummary) -> pb.ImportSummary:
    return pb.ImportSummary(
        import_id=summary.import_id,
        list_id=summary.list_id,
        rows=summary.rows,
        applied=summary.applied,
        unchanged=summary.unchanged,
        needs_review=summary.needs_review,
        rejected=summary.rejected,
        new_residents=summary.new_residents,
        changed_residents=summary.changed_residents,
        dropped_residents=summary.dropped_residents,
    )


def chunk_outcome(applied: ChunkApplied) -> pb.ChunkOutcome:
    counts = applied.counts
    return pb.ChunkOutcome(
        import_id=applied.import_id,
        chunk_number=applied.chunk_number,
        rows=counts.rows,
        applied=counts.applied,
        unchanged=counts.unchanged,
        needs_review=counts.needs_review,
        rejected=counts.rejected,
    )


def row_result(result: RowResult) -> pb.RowResult:
    return pb.RowResult(
        row_number=result.row_number,
        outcome=_wire(result.outcome),
        citizen_id=result.citizen_id,
        reason=result.reason,
        differing_fields=list(result.differing_fields),
        candidates=[
            pb.Candidate(
                citizen_id=c.citizen_id,
                full_name=c.full_name,
                birth_date=date_to_proto(c.birth_date),
                ward_code=c.ward_code,
            )
            for c in result.candidates
        ],
        event_id=result.event_id,
    )


def row_outcome(value: int) -> RowOutcome | None:
    """None for UNSPECIFIED (every outcome)."""
    read = FieldReader()
    outcome = read.enum(value, RowOutcome, "outcome")
    read.done()
    return outcome
