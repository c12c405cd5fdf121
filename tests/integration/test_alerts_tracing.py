"""Tracing from scans: a resident's scans over a period, and who passed the same checkpoint
close in time (candidate contacts)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import grpc
from dancu.alerts.v1 import alerts_service_pb2 as pb

from tests.integration.alerts_client import (
    CDC,
    CHECKPOINT_OPERATOR,
    HOAN_KIEM_POLICE,
    TAY_HO_POLICE,
    AlertsClients,
    now,
    register_checkpoint,
    scan_request,
    timestamp,
)
from tests.integration.registry_client import expect_error, new_citizen_id

if TYPE_CHECKING:
    from dancu.alerts.v1.alerts_service_pb2_grpc import AlertsServiceAsyncStub


async def scan_at(
    operator: AlertsServiceAsyncStub, checkpoint: str, citizen_id: str, at: dt.datetime
) -> str:
    request = scan_request(checkpoint, citizen_id)
    request.scan_time.CopyFrom(timestamp(at))
    return (await operator.Scan(request)).scan_id


async def test_co_presence_finds_who_passed_the_same_checkpoint_within_the_window(
    alerts_clients: AlertsClients,
) -> None:
    police = alerts_clients.alerts_stub(HOAN_KIEM_POLICE)
    operator = alerts_clients.alerts_stub(CHECKPOINT_OPERATOR)
    here = (await register_checkpoint(police)).code
    elsewhere = (await register_checkpoint(police)).code
    case, close, late, other_place = (new_citizen_id() for _ in range(4))
    t = now() - dt.timedelta(hours=5)
    case_scan = await scan_at(operator, here, case, t)
    await scan_at(operator, here, close, t + dt.timedelta(minutes=9))
    await scan_at(operator, here, late, t + dt.timedelta(minutes=40))
    await scan_at(operator, elsewhere, other_place, t)
    start, end = timestamp(t - dt.timedelta(days=1)), timestamp(now())

    found = await police.FindCoPresence(
        pb.FindCoPresenceRequest(citizen_id=case, window_minutes=15, start_time=start, end_time=end)
    )
    wider = await police.FindCoPresence(
        pb.FindCoPresenceRequest(citizen_id=case, window_minutes=60, start_time=start, end_time=end)
    )
    scans = await alerts_clients.alerts_stub(CDC).ListScans(
        pb.ListScansRequest(citizen_id=case, start_time=start, end_time=end)
    )
    unseen = await alerts_clients.alerts_stub(TAY_HO_POLICE).ListScans(
        pb.ListScansRequest(citizen_id=case, start_time=start, end_time=end)
    )

    assert [(c.citizen_id, c.checkpoint_code) for c in found.candidates] == [(close, here)]
    assert [c.citizen_id for c in wider.candidates] == [close, late]
    assert [(s.scan_id, s.checkpoint_code) for s in scans.scans] == [(case_scan, here)]
    assert scans.scans[0].scan_time == timestamp(t)
    # Ward police of another ward see no scan made at checkpoints outside it.
    assert list(unseen.scans) == []


async def test_tracing_needs_a_bounded_period(alerts_clients: AlertsClients) -> None:
    police = alerts_clients.alerts_stub(HOAN_KIEM_POLICE)

    missing = await expect_error(
        police.ListScans(pb.ListScansRequest(citizen_id=new_citizen_id())),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    too_long = await expect_error(
        police.FindCoPresence(
            pb.FindCoPresenceRequest(
                citizen_id=new_citizen_id(),
                start_time=timestamp(now() - dt.timedelta(days=40)),
                end_time=timestamp(now()),
                window_minutes=500,
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )

    assert missing.violations == (("start_time", "PERIOD_REQUIRED"),)
    assert set(too_long.violations) == {
        ("end_time", "PERIOD_TOO_LONG"),
        ("window_minutes", "WINDOW_OUT_OF_RANGE"),
    }
