"""Every query of the welfare database lives here."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import cast, func, literal, select, tuple_
from sqlalchemy.dialects.postgresql import UUID, distinct_on
from sqlalchemy.ext.asyncio import AsyncConnection

from services.welfare.adapters.tables import (
    benefit_cases,
    case_payments,
    case_transitions,
    programs,
)
from services.welfare.domain.model import (
    Actor,
    Assessment,
    BeneficiaryKind,
    Benefit,
    BenefitCase,
    BenefitKind,
    CaseState,
    Clause,
    ClauseResult,
    Entitlement,
    FactValue,
    Payment,
    Program,
    Transition,
)
from services.welfare.ports import CaseQuery

p = programs.c
b = benefit_cases.c
t = case_transitions.c
m = case_payments.c
_INACTIVE = (int(CaseState.REJECTED), int(CaseState.WITHDRAWN))
_AWAITING = (int(CaseState.OPEN), int(CaseState.IN_REVIEW))


def _program(row: Any) -> Program:
    return Program(
        code=row.code,
        version=row.version,
        name=row.name,
        legal_basis=row.legal_basis,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        benefit=Benefit(
            BenefitKind(row.benefit_kind),
            row.amount_vnd,
            row.quantity_expression,
            row.max_units,
            row.until_age,
        ),
        beneficiary=BeneficiaryKind(row.beneficiary),
        clauses=tuple(Clause(c["name"], c["description"], c["expression"]) for c in row.clauses),
        review_days=row.review_days,
        example=row.example,
        published_at=row.published_at,
        published_by=row.published_by,
    )


def assessment_json(a: Assessment) -> dict[str, Any]:
    owed = a.entitlement
    return {
        "program_code": a.program_code,
        "program_version": a.program_version,
        "beneficiary_id": a.beneficiary_id,
        "subject_id": a.subject_id,
        "on": a.on.isoformat(),
        "eligible": a.eligible,
        "clauses": [
            {
                "name": c.name,
                "description": c.description,
                "expression": c.expression,
                "satisfied": c.satisfied,
                "error": c.error,
                "facts": [[f.path, f.value] for f in c.facts],
            }
            for c in a.clauses
        ],
        "entitlement": None
        if owed is None
        else {
            "amount_vnd": owed.amount_vnd,
            "unit_amount_vnd": owed.unit_amount_vnd,
            "units": owed.units,
            "uncapped_units": owed.uncapped_units,
            "explanation": owed.explanation,
        },
    }


def assessment_from_json(data: dict[str, Any]) -> Assessment:
    owed = data["entitlement"]
    return Assessment(
        program_code=data["program_code"],
        program_version=data["program_version"],
        beneficiary_id=data["beneficiary_id"],
        subject_id=data["subject_id"],
        on=dt.date.fromisoformat(data["on"]),
        eligible=data["eligible"],
        clauses=tuple(
            ClauseResult(
                c["name"],
                c["description"],
                c["expression"],
                c["satisfied"],
                c["error"],
                tuple(FactValue(path, value) for path, value in c["facts"]),
            )
            for c in data["clauses"]
        ),
        entitlement=None if owed is None else Entitlement(**owed),
    )


def _case(
    row: Any, history: Sequence[Transition] = (), payments: Sequence[Payment] = ()
) -> BenefitCase:
    return BenefitCase(
        case_id=row.case_id,
        program_code=row.program_code,
        program_version=row.program_version,
        beneficiary_id=row.beneficiary_id,
        subject_id=row.subject_id,
        ward_code=row.ward_code,
        state=CaseState(row.state),
        assignee=row.assignee,
        opened_by=Actor(row.opened_by_subject, row.opened_by_agency),
        assessed_by=row.assessed_by,
        decided_by=row.decided_by,
        decision_reason=row.decision_reason,
        assessment=assessment_from_json(row.assessment),
        amount_vnd=row.amount_vnd,
        payment_reference=row.payment_reference,
        opened_at=row.opened_at,
        due_at=row.due_at,
        updated_at=row.updated_at,
        history=tuple(history),
        version=row.version,
        payment_periods=row.payment_periods,
        periods_paid=row.periods_paid,
        payments=tuple(payments),
        workflow_id=row.workflow_id or "",
    )


def _payment(row: Any) -> Payment:
    return Payment(
        row.period,
        row.payment_reference,
        row.amount_vnd,
        row.recorded_at,
        Actor(row.recorded_by_subject, row.recorded_by_agency),
    )


def _transition(row: Any) -> Transition:
    return Transition(
        None if row.from_state is None else CaseState(row.from_state),
        CaseState(row.to_state),
        Actor(row.actor_subject, row.actor_agency),
        row.at,
        row.reason,
    )


def _case_values(case: BenefitCase) -> dict[str, Any]:
    return {
        "state": int(case.state),
        "assignee": case.assignee,
        "decided_by": case.decided_by,
        "decision_reason": case.decision_reason,
        "payment_reference": case.payment_reference,
        "updated_at": case.updated_at,
        "version": case.version,
        "periods_paid": case.periods_paid,
        "workflow_id": case.workflow_id or None,
    }


class SqlWelfareRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    # --- programs ---------------------------------------------------------------------

    async def latest_program(self, code: str) -> Program | None:
        row = (
            await self._conn.execute(
                select(programs).where(p.code == code).order_by(p.version.desc()).limit(1)
            )
        ).first()
        return _program(row) if row else None

    async def program(self, code: str, version: int) -> Program | None:
        row = (
            await self._conn.execute(select(programs).where(p.code == code, p.version == version))
        ).first()
        return _program(row) if row else None

    async def latest_programs(self) -> Sequence[Program]:
        rows = await self._conn.execute(
            select(programs).ext(distinct_on(p.code)).order_by(p.code, p.version.desc())
        )
        return [_program(row) for row in rows]

    async def _lock(self, key: str) -> None:
        # A transaction-scoped advisory lock: what it guards may have no row to lock yet.
        await self._conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))

    async def lock_program_code(self, code: str) -> None:
        await self._lock("program:" + code)

    async def lock_claims(self, program_code: str, subject_id: str) -> None:
        await self._lock(f"claims:{program_code}:{subject_id}")

    async def lock_payment_reference(self, reference: str) -> None:
        await self._lock("payment-reference:" + reference)

    async def add_program(self, program: Program) -> None:
        benefit = program.benefit
        await self._conn.execute(
            programs.insert().values(
                code=program.code,
                version=program.version,
                name=program.name,
                legal_basis=program.legal_basis,
                valid_from=program.valid_from,
                valid_to=program.valid_to,
                benefit_kind=int(benefit.kind),
                amount_vnd=benefit.amount_vnd,
                quantity_expression=benefit.quantity_expression,
                max_units=benefit.max_units,
                until_age=benefit.until_age,
                beneficiary=int(program.beneficiary),
                clauses=[
                    {"name": c.name, "description": c.description, "expression": c.expression}
                    for c in program.clauses
                ],
                review_days=program.review_days,
                example=program.example,
                published_at=program.published_at,
                published_by=program.published_by,
            )
        )

    # --- cases ------------------------------------------------------------------------

    async def _history(self, case_ids: Sequence[str]) -> dict[str, list[Transition]]:
        found: defaultdict[str, list[Transition]] = defaultdict(list)
        if not case_ids:
            return found
        rows = await self._conn.execute(
            select(case_transitions).where(t.case_id.in_(case_ids)).order_by(t.case_id, t.seq)
        )
        for row in rows:
            found[row.case_id].append(_transition(row))
        return found

    async def _payments(self, case_id: str) -> list[Payment]:
        rows = await self._conn.execute(
            select(case_payments).where(m.case_id == case_id).order_by(m.period)
        )
        return [_payment(row) for row in rows]

    async def payment_by_reference(self, reference: str) -> tuple[str, int] | None:
        row = (
            await self._conn.execute(
                select(m.case_id, m.period).where(m.payment_reference == reference)
            )
        ).first()
        return None if row is None else (row.case_id, row.period)

    async def active_case(
        self, program_code: str, beneficiary_id: str, subject_id: str
    ) -> BenefitCase | None:
        row = (
            await self._conn.execute(
                select(benefit_cases).where(
                    b.program_code == program_code,
                    b.beneficiary_id == beneficiary_id,
                    b.subject_id == subject_id,
                    b.state.not_in(_INACTIVE),
                )
            )
        ).first()
        if row is None:
            return None
        history = (await self._history([row.case_id]))[row.case_id]
        return _case(row, history, await self._payments(row.case_id))

    async def add_case(self, case: BenefitCase) -> None:
        await self._conn.execute(
            benefit_cases.insert().values(
                case_id=case.case_id,
                program_code=case.program_code,
                program_version=case.program_version,
                beneficiary_id=case.beneficiary_id,
                subject_id=case.subject_id,
                ward_code=case.ward_code,
                opened_by_subject=case.opened_by.subject,
                opened_by_agency=case.opened_by.agency,
                assessed_by=case.assessed_by,
                assessment=assessment_json(case.assessment),
                amount_vnd=case.amount_vnd,
                opened_at=case.opened_at,
                due_at=case.due_at,
                payment_periods=case.payment_periods,
                **_case_values(case),
            )
        )
        await self._add_transitions(case, 0)

    async def _add_transitions(self, case: BenefitCase, stored: int) -> None:
        new = case.history[stored:]
        if not new:
            return
        await self._conn.execute(
            case_transitions.insert(),
            [
                {
                    "case_id": case.case_id,
                    "seq": stored + i + 1,
                    "from_state": None if s.from_state is None else int(s.from_state),
                    "to_state": int(s.to_state),
                    "actor_subject": s.actor.subject,
                    "actor_agency": s.actor.agency,
                    "at": s.at,
                    "reason": s.reason,
                }
                for i, s in enumerate(new)
            ],
        )

    async def case(self, case_id: str, *, for_update: bool = False) -> BenefitCase | None:
        query = select(benefit_cases).where(b.case_id == case_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        if row is None:
            return None
        return _case(row, (await self._history([case_id]))[case_id], await self._payments(case_id))

    async def save_case(self, case: BenefitCase) -> None:
        await self._conn.execute(
            benefit_cases.update().where(b.case_id == case.case_id).values(**_case_values(case))
        )
        stored = (
            await self._conn.execute(
                select(func.count()).select_from(case_transitions).where(t.case_id == case.case_id)
            )
        ).scalar_one()
        await self._add_transitions(case, stored)
        await self._add_payments(case)

    async def _add_payments(self, case: BenefitCase) -> None:
        stored = (
            await self._conn.execute(
                select(func.count()).select_from(case_payments).where(m.case_id == case.case_id)
            )
        ).scalar_one()
        new = case.payments[stored:]
        if not new:
            return
        await self._conn.execute(
            case_payments.insert(),
            [
                {
                    "case_id": case.case_id,
                    "period": paid.period,
                    "payment_reference": paid.reference,
                    "amount_vnd": paid.amount_vnd,
                    "recorded_at": paid.recorded_at,
                    "recorded_by_subject": paid.recorded_by.subject,
                    "recorded_by_agency": paid.recorded_by.agency,
                }
                for paid in new
            ],
        )

    async def other_claims(self, program_code: str, subject_id: str, beneficiary_id: str) -> int:
        count = (
            await self._conn.execute(
                select(func.count())
                .select_from(benefit_cases)
                .where(
                    b.program_code == program_code,
                    b.subject_id == subject_id,
                    b.beneficiary_id != beneficiary_id,
                    b.state.not_in(_INACTIVE),
                )
            )
        ).scalar_one()
        return int(count)

    async def cases_page(
        self, query: CaseQuery, after: tuple[dt.datetime, str] | None, limit: int
    ) -> Sequence[BenefitCase]:
        statement = select(benefit_cases)
        if query.state is not None:
            statement = statement.where(b.state == int(query.state))
        if query.program_code is not None:
            statement = statement.where(b.program_code == query.program_code)
        if query.wards is not None:
            statement = statement.where(b.ward_code.in_(sorted(query.wards)))
        if query.assignee is not None:
            statement = statement.where(b.assignee == query.assignee)
        if query.overdue_at is not None:
            statement = statement.where(b.state.in_(_AWAITING), b.due_at < query.overdue_at)
        if after is not None:
            opened, case_id = after
            statement = statement.where(
                tuple_(b.opened_at, b.case_id)
                > tuple_(literal(opened), cast(case_id, UUID(as_uuid=False)))
            )
        rows = await self._conn.execute(statement.order_by(b.opened_at, b.case_id).limit(limit))
        return [_case(row) for row in rows]


async def count_cases_by_state(conn: AsyncConnection) -> dict[CaseState, int]:
    """How many benefit cases are in each state (an index-only scan of benefit_cases_state)."""
    c = benefit_cases.c
    rows = (await conn.execute(select(c.state, func.count()).group_by(c.state))).all()
    return {CaseState(state): count for state, count in rows}
