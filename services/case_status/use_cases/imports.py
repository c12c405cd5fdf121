"""Daily list imports: verify every row with the registry, apply the matched ones, keep every
row's result, and compare with the ward's previous list.

A list imported whole (ImportCaseList) is one transaction: the request id is claimed first (a
replay returns the stored summary and asks the registry nothing), the registry verifies the rows
in batches of up to 5,000 and is asked for the matched residents' residences (1,000 a time) and
the households of rows reporting an F0, all before any resident is locked; then the matched
residents are locked in id order, their events read with one query, the new events appended
(with the outbox rows, household contacts and derived-level recomputation RecordStatus does),
the current statuses rewritten and the rows stored in batches. A row that says what the
resident's current status already says is UNCHANGED and writes no event, so the same list
imported again changes nothing.

A staged list (``staged_imports``) runs the same pipeline, ``results_of_rows``, once per chunk,
each chunk in a transaction of its own.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from services.case_status.domain import rules, timeline
from services.case_status.domain.household import propose_household_contacts
from services.case_status.domain.imports import (
    MAX_ROWS_PER_IMPORT,
    ImportHeader,
    ImportRecord,
    ImportState,
    ImportSummary,
    RowCandidate,
    RowOutcome,
    RowResult,
    StoredRow,
    SubmittedRow,
    first_positions,
    number_rows,
    row_key,
    row_signature,
    says_the_same,
    summarise,
)
from services.case_status.domain.model import (
    VIETNAM_TIME,
    Actor,
    CaseStatus,
    Classification,
    ExposureLink,
    Source,
    StatusEvent,
    vietnam_date,
)
from services.case_status.ports import (
    IdentityClaim,
    ResidentFacts,
    ResultEncoder,
    UnitOfWork,
    Verification,
    VerificationOutcome,
)
from services.case_status.use_cases import (
    CASE,
    CaseStatusService,
    _became_f0,
    _replay,
    _transaction,
    new_event_id,
)
from services.case_status.use_cases.recompute import (
    STATUS_CHANGED,
    recompute_around,
    status_changed_payload,
)
from services.kit.audit import AuditEvent
from services.kit.auth import Identity
from services.kit.errors import (
    DomainError,
    FieldViolation,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    Validator,
)
from services.kit.request_ids import IdempotencyKey, StoredResponse

IMPORT = "case_import"
MAX_RESULTS_PAGE = 5000


@dataclass(frozen=True)
class ResultsPage:
    results: Sequence[RowResult]
    # The last row number of a full page; None on the last page.
    after: int | None


def validate_header(svc: CaseStatusService, header: ImportHeader, rows: int) -> None:
    v = Validator()
    v.check(bool(header.list_id), "header.list_id", "LIST_ID_REQUIRED", "is required")
    v.check(len(header.list_id) <= 200, "header.list_id", "TOO_LONG", "at most 200 characters")
    v.check(header.list_date is not None, "header.list_date", "DATE_REQUIRED", "is required")
    v.check(svc.ward_exists(header.ward_code), "header.ward_code", "WARD_UNKNOWN", "no such ward")
    v.check(
        rows <= MAX_ROWS_PER_IMPORT,
        "rows",
        "TOO_MANY_ROWS",
        f"at most {MAX_ROWS_PER_IMPORT} rows per import",
    )
    v.raise_if_any()


def check_ward(identity: Identity, ward_code: str) -> None:
    if not identity.nationwide and ward_code not in identity.wards:
        raise Forbidden("OUT_OF_JURISDICTION", "the list is for a ward that is not yours")


def _claim(row: SubmittedRow) -> IdentityClaim:
    return IdentityClaim(
        str(row.row_number), row.citizen_id, row.full_name, row.birth_date, row.ward_code
    )


def _in_scope(identity: Identity, found: Verification) -> Verification:
    """What a ward-scoped caller may learn: residents of other wards are unknown to it (as the
    registry answers such a caller itself), though this service asks with its own token."""
    if identity.nationwide:
        return found
    if found.match is not None and not found.match.lives_in(identity.wards):
        return Verification(VerificationOutcome.NO_MATCH)
    candidates = tuple(c for c in found.candidates if c.lives_in(identity.wards))
    if found.outcome is VerificationOutcome.AMBIGUOUS and not candidates:
        return Verification(VerificationOutcome.NO_MATCH)
    return replace(found, candidates=candidates)


def _classify(row: SubmittedRow, found: Verification) -> RowResult | str:
    """The row's result when it is not applied, else the matched citizen id."""
    n = row.row_number
    match found.outcome:
        case VerificationOutcome.MATCH if found.match is not None:
            if found.match.deceased:
                return RowResult(n, RowOutcome.REJECTED, reason="RESIDENT_DECEASED")
            return found.match.citizen_id
        case VerificationOutcome.MATCH_WITH_DIFFERENCES if found.match is not None:
            return RowResult(
                n,
                RowOutcome.NEEDS_REVIEW,
                reason="MATCH_WITH_DIFFERENCES",
                differing_fields=found.differing_fields,
                candidates=(found.match,),
            )
        case VerificationOutcome.AMBIGUOUS:
            return RowResult(
                n, RowOutcome.NEEDS_REVIEW, reason="AMBIGUOUS", candidates=found.candidates
            )
        case VerificationOutcome.INVALID:
            return RowResult(n, RowOutcome.REJECTED, reason=found.problem or "INVALID")
        case _:
            return RowResult(n, RowOutcome.REJECTED, reason="NO_MATCH")


def _event(
    row: SubmittedRow, cid: str, list_id: str, identity: Identity, now: dt.datetime
) -> StatusEvent:
    assert row.effective_date is not None
    start = dt.datetime.combine(row.effective_date, dt.time(), VIETNAM_TIME)
    return StatusEvent(
        event_id=new_event_id(),
        citizen_id=cid,
        effective_at=min(start, now),
        recorded_at=now,
        source=Source(identity.agency, list_id, f"row {row.row_number}"),
        recorded_by=Actor(identity.subject, identity.agency),
        classification=row.classification,
        care=row.care,
        condition=row.condition,
        reason=f"daily list {list_id}, row {row.row_number}",
    )


@dataclass(frozen=True)
class _RegistryContext:
    """What the registry says about the matched residents, asked before any lock is taken:
    their residences (the snapshot kept beside cases) and, for rows reporting an F0, their
    households (who become HOUSEHOLD contacts, as with RecordStatus)."""

    facts: Mapping[str, ResidentFacts]
    households: Mapping[str, Sequence[ResidentFacts]]


async def _registry_context(
    svc: CaseStatusService, matched: Sequence[tuple[SubmittedRow, str]]
) -> _RegistryContext:
    ids = sorted({cid for _, cid in matched})
    f0 = sorted({cid for row, cid in matched if row.classification is Classification.F0})
    households = await svc.registry.households(f0)
    # The F0s are members of their households: asked for once.
    known = {m.citizen_id: m for members in households.values() for m in members}
    facts = await svc.registry.residents([cid for cid in ids if cid not in known])
    known.update((f.citizen_id, f) for f in facts)
    return _RegistryContext({cid: known[cid] for cid in ids if cid in known}, households)


async def _apply(
    svc: CaseStatusService,
    uow: UnitOfWork,
    identity: Identity,
    list_id: str,
    matched: Sequence[tuple[SubmittedRow, str]],
    now: dt.datetime,
) -> dict[int, RowResult]:
    """Applies each matched row to its resident, in row order: APPLIED, UNCHANGED, or
    REJECTED with the reason the status rules gave. Every write is one statement for the
    whole list (events and outbox rows by COPY), not one per row."""
    known = await _registry_context(svc, matched)
    ids = sorted({cid for _, cid in matched})
    await uow.cases.lock_residents(ids)
    events = {cid: list(found) for cid, found in (await uow.cases.events_of(ids)).items()}
    results: dict[int, RowResult] = {}
    appended_events: list[tuple[StatusEvent, None]] = []
    announced: list[tuple[str, dict[str, object]]] = []
    confirmed: dict[str, dt.date] = {}
    # Each resident's status with the list's rows so far.
    statuses: dict[str, CaseStatus] = {}
    # The residents whose status the list changed (kept as current below).
    changed: dict[str, CaseStatus] = {}
    for row, cid in matched:
        n = row.row_number
        history = events.setdefault(cid, [])
        current = statuses.get(cid) or timeline.fold(cid, history, policy=svc.isolation)
        statuses[cid] = current
        if says_the_same(row, current):
            results[n] = RowResult(n, RowOutcome.UNCHANGED, citizen_id=cid)
            continue
        # Each event of the list recorded a microsecond after the one before: two rows about
        # one resident effective the same day then keep their row order in the timeline
        # (equal times would leave it to the events' random ids).
        recorded = now + dt.timedelta(microseconds=len(appended_events))
        event = _event(row, cid, list_id, identity, recorded)
        try:
            rules.validate_event(event, recorded, svc.ward_exists)
            appended = timeline.append(history, event, policy=svc.isolation, before=current)
        except InvalidInput as invalid:
            reason = invalid.violations[0].reason if invalid.violations else invalid.reason
            results[n] = RowResult(n, RowOutcome.REJECTED, citizen_id=cid, reason=reason)
            continue
        except DomainError as refused:
            results[n] = RowResult(n, RowOutcome.REJECTED, citizen_id=cid, reason=refused.reason)
            continue
        appended_events.append((event, None))
        announced.append((cid, status_changed_payload(event, appended.after)))
        history.append(event)
        statuses[cid] = appended.after
        if _became_f0(appended.before, appended.after):
            confirmed[cid] = vietnam_date(appended.after.classified_at or event.effective_at)
        if appended.recomputed:
            changed[cid] = appended.after
        results[n] = RowResult(n, RowOutcome.APPLIED, citizen_id=cid, event_id=event.event_id)
    await uow.cases.add_events(appended_events)
    await uow.publish_all(STATUS_CHANGED, announced)
    await _add_household_contacts(uow, identity, confirmed, known.households)
    if changed:
        changes = await recompute_around(
            uow, svc.tracing, svc.isolation, list(changed), identity, now, events, statuses
        )
        changed.update((c.citizen_id, c.status) for c in changes)
        await uow.cases.save_current(list(changed.values()))
    members = [m for household in known.households.values() for m in household]
    await uow.cases.save_residences([*known.facts.values(), *members])
    return results


async def _add_household_contacts(
    uow: UnitOfWork,
    identity: Identity,
    confirmed: Mapping[str, dt.date],
    households: Mapping[str, Sequence[ResidentFacts]],
) -> None:
    """The living household members of the residents the list made F0, as their contacts on
    the day of confirmation (the links already stored are read with one query)."""
    if not confirmed:
        return
    existing: dict[str, list[ExposureLink]] = {cid: [] for cid in confirmed}
    for link in await uow.cases.links_around(list(confirmed), 1):
        for cid in (link.source_id, link.contact_id):
            if cid in existing:
                existing[cid].append(link)
    actor = Actor(identity.subject, identity.agency)
    links = [
        link
        for cid, day in confirmed.items()
        for link in propose_household_contacts(
            cid,
            day,
            [m.citizen_id for m in households.get(cid, ()) if not m.deceased],
            existing[cid],
            actor,
        )
    ]
    await uow.cases.add_links(links)


async def results_of_rows(
    svc: CaseStatusService,
    uow: UnitOfWork,
    owner: Identity,
    list_id: str,
    rows: Sequence[tuple[int, SubmittedRow]],
    first: Mapping[int, int],
    now: dt.datetime,
) -> list[StoredRow]:
    """Every row's result, in row-number order: numbered and checked, verified with the
    registry, the matched ones applied (in the transaction of ``uow``). ``rows`` are the rows
    with their positions in the whole list, ``first`` where each row number first appears in
    it; ``owner`` is who submitted the list: what they may see decides the matches, and their
    name goes on the events."""
    numbered, results = number_rows(rows, vietnam_date(now), first)
    to_verify = [row for row in numbered if row.row_number not in results]
    verified = await svc.registry.verify_identities([_claim(r) for r in to_verify])
    matched: list[tuple[SubmittedRow, str]] = []
    for row, found in zip(to_verify, verified, strict=True):
        outcome = _classify(row, _in_scope(owner, found))
        if isinstance(outcome, str):
            matched.append((row, outcome))
        else:
            results[row.row_number] = outcome
    results.update(await _apply(svc, uow, owner, list_id, matched, now))
    return [
        StoredRow(
            row,
            results[row.row_number],
            row_key(row, results[row.row_number].citizen_id),
            row_signature(row),
        )
        for row in sorted(numbered, key=lambda r: r.row_number)
    ]


async def import_case_list(
    svc: CaseStatusService,
    identity: Identity,
    header: ImportHeader,
    rows: Sequence[SubmittedRow],
    key: IdempotencyKey,
    encode: ResultEncoder[ImportSummary],
) -> ImportSummary | StoredResponse:
    validate_header(svc, header, len(rows))
    assert header.list_date is not None
    method = "ImportCaseList"
    resource_ids: list[str] = []
    async with _transaction(svc, identity, method, resource_ids, key.request_id) as uow:
        check_ward(identity, header.ward_code)
        replayed = await _replay(uow, method, key, [])
        if replayed is not None:
            return replayed
        now = svc.clock.now()
        positioned = list(enumerate(rows, start=1))
        first = first_positions(row.row_number for row in rows)
        stored = await results_of_rows(svc, uow, identity, header.list_id, positioned, first, now)
        import_id = str(uuid.uuid4())
        record = ImportRecord(
            import_id,
            identity.agency,
            header.request_id,
            header.list_id,
            header.ward_code,
            header.list_date,
            now,
            ImportSummary(import_id, header.list_id),
        )
        previous = await uow.cases.previous_import_rows(record)
        summary = summarise(import_id, header.list_id, [s.tally for s in stored], previous)
        await uow.cases.add_import(replace(record, summary=summary), stored)
        await uow.complete(key, encode(summary))
        resource_ids.extend(sorted({s.result.citizen_id for s in stored if s.result.citizen_id}))
        await uow.audit(AuditEvent(method, CASE, tuple(resource_ids), "ok", key.request_id))
        await uow.commit()
        return summary


async def import_in_scope(
    uow: UnitOfWork, identity: Identity, import_id: str, *, for_update: bool = False
) -> ImportRecord:
    """The import, if the caller may see it (a ward-scoped caller: its wards' lists only);
    ``for_update``: locked until the transaction ends."""
    try:
        uuid.UUID(import_id)
    except ValueError:
        raise NotFound("IMPORT_NOT_FOUND", "no such import") from None
    if for_update:
        record = await uow.cases.import_record_for_update(import_id)
    else:
        record = await uow.cases.import_record(import_id)
    if record is None or not (identity.nationwide or record.ward_code in identity.wards):
        raise NotFound("IMPORT_NOT_FOUND", "no such import")
    return record


async def list_import_results(
    svc: CaseStatusService,
    identity: Identity,
    import_id: str,
    outcome: RowOutcome | None,
    after: int | None,
    size: int,
) -> ResultsPage:
    method = "ListImportResults"
    resource_ids: list[str] = []
    async with _transaction(svc, identity, method, resource_ids) as uow:
        await import_in_scope(uow, identity, import_id)
        start = after if after is not None else -MAX_ROWS_PER_IMPORT - 1
        stored = await uow.cases.import_rows(import_id, outcome, start, size)
        results = [s.result for s in stored]
        resource_ids.extend(sorted({r.citizen_id for r in results if r.citizen_id}))
        await uow.audit(AuditEvent(method, IMPORT, (import_id, *resource_ids), "ok"))
        await uow.commit()
    last = results[-1].row_number if len(results) == size else None
    return ResultsPage(results, last)


async def resolve_import_row(
    svc: CaseStatusService,
    identity: Identity,
    import_id: str,
    row_number: int,
    citizen_id: str,
    key: IdempotencyKey,
    encode: ResultEncoder[RowResult],
) -> RowResult | StoredResponse:
    v = Validator()
    rules.check_citizen_id(v, citizen_id, "citizen_id")
    v.raise_if_any()
    method = "ResolveImportRow"
    async with _transaction(svc, identity, method, [citizen_id], key.request_id) as uow:
        replayed = await _replay(uow, method, key, [citizen_id])
        if replayed is not None:
            return replayed
        record = await import_in_scope(uow, identity, import_id)
        if record.state is not ImportState.COMPLETE:
            # Its summary is counted when it completes, as the rows were then.
            raise PreconditionFailed("IMPORT_NOT_COMPLETE", "the import is still being applied")
        stored = await uow.cases.import_row(import_id, row_number)
        if stored is None:
            raise NotFound("ROW_NOT_FOUND", "the import has no such row")
        if stored.result.outcome is not RowOutcome.NEEDS_REVIEW:
            raise PreconditionFailed("ROW_NOT_NEEDING_REVIEW", "the row does not need review")
        chosen = _chosen(stored.result.candidates, citizen_id)
        if chosen.deceased:
            raise PreconditionFailed("RESIDENT_DECEASED", "the resident is dead")
        now = svc.clock.now()
        applied = await _apply(svc, uow, identity, record.list_id, [(stored.row, citizen_id)], now)
        result = applied[row_number]
        if result.outcome is RowOutcome.REJECTED:
            raise PreconditionFailed(result.reason, "the row does not fit the resident's timeline")
        result = replace(
            result,
            differing_fields=stored.result.differing_fields,
            candidates=stored.result.candidates,
        )
        await uow.cases.save_row_result(
            import_id,
            StoredRow(stored.row, result, row_key(stored.row, citizen_id), stored.row_signature),
        )
        await uow.complete(key, encode(result))
        await uow.audit(AuditEvent(method, CASE, (citizen_id,), "ok", key.request_id))
        await uow.commit()
        return result


def _chosen(candidates: Sequence[RowCandidate], citizen_id: str) -> RowCandidate:
    for candidate in candidates:
        if candidate.citizen_id == citizen_id:
            return candidate
    raise InvalidInput(
        [FieldViolation("citizen_id", "NOT_A_CANDIDATE", "must be one of the row's candidates")]
    )
