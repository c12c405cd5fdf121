"""Ward police's alerts: list, follow, acknowledge, verify, count; and the review items a
contradicted verification raises."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from services.alerts.domain import rules
from services.alerts.domain.model import (
    Actor,
    Alert,
    CareSetting,
    Outcome,
    ReviewItem,
    Verification,
    VerificationOutcome,
)
from services.alerts.ports import AlertQuery, ResultEncoder, SummaryQuery, SummaryRow
from services.alerts.use_cases import ALERT, AlertsService, _transaction, new_id
from services.kit.audit import AuditEvent
from services.kit.auth import Identity
from services.kit.errors import Forbidden, NotFound, Validator
from services.kit.pagination import PageRequest
from services.kit.request_ids import IdempotencyKey, StoredResponse
from services.kit.transactions import replay

# Alerts a WatchAlerts stream reads per query while catching up.
FEED_BATCH = 200
NOT_RECOVERED = "CASE_STATUS_NOT_RECOVERED"


@dataclass(frozen=True)
class AlertPage:
    alerts: tuple[Alert, ...]
    # The cursor to continue below, when there may be more.
    after: int | None


@dataclass(frozen=True)
class Verified:
    alert: Alert
    review_item: ReviewItem | None


@dataclass(frozen=True)
class ReviewPage:
    items: tuple[ReviewItem, ...]
    after: tuple[str, str] | None


def check_own_ward(identity: Identity, ward_code: str) -> None:
    v = Validator()
    v.check(bool(ward_code), "ward_code", "WARD_REQUIRED", "is required")
    v.raise_if_any()
    if not identity.sees_ward(ward_code):
        raise Forbidden("OUT_OF_JURISDICTION", "the ward is not one of yours")


def _visible(identity: Identity, alert: Alert | None) -> Alert:
    if alert is None or not identity.sees_ward(alert.ward_code):
        raise NotFound("ALERT_NOT_FOUND", "no such alert")
    return alert


async def list_alerts(
    svc: AlertsService, identity: Identity, query: AlertQuery, page: PageRequest
) -> AlertPage:
    check_own_ward(identity, query.ward_code)
    before = int(page.after[0]) if page.after else None
    async with _transaction(svc, identity, "ListAlerts", ALERT, []) as uow:
        found = await uow.alerts.list_alerts(query, before, page.size + 1)
        shown = tuple(found[: page.size])
        ids = tuple(dict.fromkeys(a.citizen_id for a in shown))
        await uow.audit(AuditEvent("ListAlerts", ALERT, ids, "ok"))
        await uow.commit()
    after = shown[-1].cursor if len(found) > page.size else None
    return AlertPage(shown, after)


async def watch_alerts(
    svc: AlertsService, identity: Identity, ward_code: str, after_cursor: int
) -> AsyncIterator[Alert]:
    """The ward's alerts after ``after_cursor`` in cursor order, then new ones as they are
    stored, until the caller goes away. Cursors are handed out under the feeds' lock, so
    reading "after the last cursor delivered" never skips one committed later."""
    check_own_ward(identity, ward_code)
    v = Validator()
    v.check(after_cursor >= 0, "after_cursor", "CURSOR_NEGATIVE", "must be >= 0")
    v.raise_if_any()
    cursor = after_cursor
    while True:
        async with _transaction(svc, identity, "WatchAlerts", ALERT, []) as uow:
            batch = await uow.alerts.alerts_after(ward_code, cursor, FEED_BATCH)
            if batch:
                ids = tuple(dict.fromkeys(a.citizen_id for a in batch))
                await uow.audit(AuditEvent("WatchAlerts", ALERT, ids, "ok"))
                await uow.commit()
        for alert in batch:
            yield alert
            cursor = alert.cursor
        if len(batch) < FEED_BATCH:
            await svc.feed.wait(svc.feed_poll_seconds)


async def acknowledge_alert(
    svc: AlertsService,
    identity: Identity,
    alert_id: str,
    key: IdempotencyKey,
    encode: ResultEncoder[Alert],
) -> Alert | StoredResponse:
    _check_alert_id(alert_id)
    method = "AcknowledgeAlert"
    resource_ids: list[str] = []
    async with _transaction(svc, identity, method, ALERT, resource_ids, key.request_id) as uow:
        replayed = await replay(uow, method, key, ALERT, [])
        if replayed is not None:
            return replayed
        alert = _visible(identity, await uow.alerts.alert(alert_id, for_update=True))
        resource_ids.append(alert.citizen_id)
        if rules.acknowledged(alert.state) is not alert.state:
            await uow.alerts.set_acknowledged(alert_id, identity.subject, svc.clock.now())
        result = await uow.alerts.alert(alert_id)
        assert result is not None
        await uow.complete(key, encode(result))
        await uow.audit(AuditEvent(method, ALERT, (alert.citizen_id,), "ok", key.request_id))
        await uow.commit()
        return result


async def verify_alert(
    svc: AlertsService,
    identity: Identity,
    alert_id: str,
    outcome: VerificationOutcome | None,
    care_setting: CareSetting | None,
    note: str,
    key: IdempotencyKey,
    encode: ResultEncoder[Verified],
) -> Verified | StoredResponse:
    """Records the verdict. ALREADY_RECOVERED is checked with case status first: when case
    status does not say recovered, a review item is raised for both sides to reconcile, and
    nothing else (in particular no case status) is changed here."""
    _check_alert_id(alert_id)
    checked = rules.validate_verification(outcome, note, care_setting is not None)
    method = "VerifyAlert"
    resource_ids: list[str] = []
    async with _transaction(svc, identity, method, ALERT, resource_ids, key.request_id) as uow:
        replayed = await replay(uow, method, key, ALERT, [])
        if replayed is not None:
            return replayed
        alert = _visible(identity, await uow.alerts.alert(alert_id))
        resource_ids.append(alert.citizen_id)
        rules.check_verifiable(alert.state)
        review_item = None
        if checked is VerificationOutcome.ALREADY_RECOVERED:
            # Only the request id is held meanwhile: a retry waits for this call's answer.
            facts = await svc.case_status.current(alert.citizen_id)
            if facts is None or facts.outcome is not Outcome.RECOVERED:
                review_item = ReviewItem(
                    review_item_id=new_id(),
                    alert_id=alert.alert_id,
                    ward_code=alert.ward_code,
                    citizen_id=alert.citizen_id,
                    reason=NOT_RECOVERED,
                    case_classification=facts.classification if facts else None,
                    case_outcome=facts.outcome if facts else None,
                    created_at=svc.clock.now(),
                )
        locked = _visible(identity, await uow.alerts.alert(alert_id, for_update=True))
        rules.check_verifiable(locked.state)
        now = svc.clock.now()
        await uow.alerts.add_verification(
            alert_id,
            Verification(
                checked, care_setting, note.strip(), Actor(identity.subject, identity.agency), now
            ),
        )
        if review_item is not None:
            await uow.alerts.add_review_item(review_item)
        stored = await uow.alerts.alert(alert_id)
        assert stored is not None
        result = Verified(stored, review_item)
        await uow.complete(key, encode(result))
        outcome_text = "ok" if review_item is None else f"ok:{NOT_RECOVERED}"
        await uow.audit(
            AuditEvent(method, ALERT, (alert.citizen_id,), outcome_text, key.request_id)
        )
        await uow.commit()
        return result


def _check_alert_id(alert_id: str) -> None:
    v = Validator()
    v.check(bool(alert_id), "alert_id", "ALERT_ID_REQUIRED", "is required")
    v.raise_if_any()


def caller_wards(identity: Identity, asked: frozenset[str]) -> frozenset[str] | None:
    """The wards a caller's query covers (None: every ward, for nationwide callers)."""
    if asked and not all(identity.sees_ward(w) for w in asked):
        raise Forbidden("OUT_OF_JURISDICTION", "a ward is not one of yours")
    if asked:
        return asked
    return None if identity.nationwide else identity.wards


async def list_review_items(
    svc: AlertsService, identity: Identity, ward_code: str, page: PageRequest
) -> ReviewPage:
    wards = caller_wards(identity, frozenset({ward_code}) if ward_code else frozenset())
    after = (str(page.after[0]), str(page.after[1])) if page.after else None
    async with _transaction(svc, identity, "ListReviewItems", ALERT, []) as uow:
        found = await uow.alerts.review_items(wards, after, page.size + 1)
        shown = tuple(found[: page.size])
        ids = tuple(dict.fromkeys(i.citizen_id for i in shown))
        await uow.audit(AuditEvent("ListReviewItems", ALERT, ids, "ok"))
        await uow.commit()
    last = shown[-1] if shown else None
    next_after = (
        (last.created_at.isoformat(), last.review_item_id)
        if last is not None and len(found) > page.size
        else None
    )
    return ReviewPage(shown, next_after)


async def summarize_alerts(
    svc: AlertsService, identity: Identity, query: SummaryQuery
) -> list[SummaryRow]:
    """Counts only: no resident is named, so the audit row names none either."""
    wards = caller_wards(identity, query.wards or frozenset())
    if query.start is not None and query.end is not None and query.end <= query.start:
        v = Validator()
        v.add("end_time", "PERIOD_EMPTY", "must be after start_time")
        v.raise_if_any()
    scoped = SummaryQuery(
        wards,
        query.kind,
        query.ward_role,
        query.start,
        query.end,
        query.group_by_ward,
        query.period,
    )
    async with _transaction(svc, identity, "SummarizeAlerts", ALERT, []) as uow:
        rows = await uow.alerts.summarize(scoped)
        await uow.audit(AuditEvent("SummarizeAlerts", ALERT, (), "ok"))
        await uow.commit()
    return rows
