"""Programs: listed, read by version, and published as new versions when they change."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from services.kit.audit import AuditEvent
from services.kit.auth import Identity
from services.kit.errors import NotFound
from services.kit.request_ids import IdempotencyKey, StoredResponse
from services.kit.transactions import replay
from services.welfare.domain.eligibility import validate_program
from services.welfare.domain.model import Program
from services.welfare.ports import ResultEncoder
from services.welfare.use_cases import PROGRAM, WelfareService, transaction


async def list_programs(
    svc: WelfareService, identity: Identity, in_force_on: dt.date | None
) -> list[Program]:
    async with svc.uow(identity) as uow:
        programs = await uow.welfare.latest_programs()
    return [p for p in programs if in_force_on is None or p.in_force_on(in_force_on)]


async def get_program(svc: WelfareService, identity: Identity, code: str, version: int) -> Program:
    async with svc.uow(identity) as uow:
        if version:
            program = await uow.welfare.program(code, version)
        else:
            program = await uow.welfare.latest_program(code)
    if program is None:
        raise NotFound("PROGRAM_NOT_FOUND", "no such program")
    return program


async def publish_program(
    svc: WelfareService,
    identity: Identity,
    draft: Program,
    key: IdempotencyKey,
    encode: ResultEncoder[tuple[Program, bool]],
) -> tuple[Program, bool] | StoredResponse:
    """The new version (True), or the latest when its content is the same (False)."""
    validate_program(draft)
    method = "PublishProgram"
    async with transaction(svc, identity, method, PROGRAM, [draft.code], key.request_id) as uow:
        replayed = await replay(uow, method, key, PROGRAM, [draft.code])
        if replayed is not None:
            return replayed
        await uow.welfare.lock_program_code(draft.code)
        latest = await uow.welfare.latest_program(draft.code)
        if latest is not None and latest.same_content(draft):
            result = (latest, False)
        else:
            published = replace(
                draft,
                version=(latest.version if latest else 0) + 1,
                published_at=svc.clock.now(),
                published_by=identity.subject,
            )
            await uow.welfare.add_program(published)
            result = (published, True)
        await uow.complete(key, encode(result))
        outcome = "ok" if result[1] else "unchanged"
        await uow.audit(AuditEvent(method, PROGRAM, (draft.code,), outcome, key.request_id))
        await uow.commit()
        return result
