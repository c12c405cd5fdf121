"""WatchAlerts: a ward's feed, resumable from a cursor without loss or duplicates, and fed by
every replica."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from dancu.alerts.v1 import alert_pb2 as apb
from dancu.alerts.v1 import alerts_service_pb2 as pb

from services.alerts.api.convert import status_change as read_status_change
from services.alerts.main import open_alerts
from services.alerts.use_cases import AlertsService, apply_status_change
from services.kit.auth import Identity, TokenIssuer
from services.kit.db import create_engine
from services.kit.server import Server
from tests.integration.alerts_client import (
    CHECKPOINT_OPERATOR,
    HOAN_KIEM_POLICE,
    AlertsClients,
    register_checkpoint,
    scan_request,
    status_change,
)
from tests.integration.conftest import ALERTS_POLL_SECONDS
from tests.integration.registry_client import SERVICE_CALLER, expect_error, register

if TYPE_CHECKING:
    from dancu.alerts.v1.alerts_service_pb2_grpc import AlertsServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub

# Wards no other test uses: their feeds hold only what these tests put there.
NGOC_HA = "00008"
GIANG_VO = "00025"
STREAM_SECONDS = 10.0


def ward_police(ward: str) -> Identity:
    return Identity(
        f"police-{ward}", f"cong-an-{ward}", frozenset({"ward_police"}), frozenset({ward})
    )


Stream = grpc.aio.UnaryStreamCall[Any, pb.WatchAlertsResponse]


async def take(stream: Stream, count: int) -> list[apb.Alert]:
    received: list[apb.Alert] = []
    async with asyncio.timeout(STREAM_SECONDS):
        while len(received) < count:
            message = await stream.read()
            assert isinstance(message, pb.WatchAlertsResponse), "the stream ended"
            received.append(message.alert)
    return received


async def nothing_more(stream: Stream, seconds: float) -> None:
    """No alert arrives within ``seconds`` (ends the call: a cancelled read cancels it)."""
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(stream.read(), seconds)


async def test_a_reconnecting_watcher_misses_nothing_and_sees_nothing_twice(
    delivery: AlertsServiceAsyncStub,
    registrar: RegistryServiceAsyncStub,
    alerts_clients: AlertsClients,
) -> None:
    police = ward_police(NGOC_HA)
    residents = [(await register(registrar, ward=NGOC_HA)).citizen_id for _ in range(3)]
    for cid in residents:
        await delivery.ApplyStatusChange(status_change(cid))

    first = alerts_clients.watch(police, NGOC_HA)
    seen = await take(first, 3)
    # Live: an alert stored while the stream is open arrives on it.
    live_resident = (await register(registrar, ward=NGOC_HA)).citizen_id
    await delivery.ApplyStatusChange(status_change(live_resident))
    seen += await take(first, 1)
    first.cancel()

    # Disconnected: five more alerts, delivered concurrently (cursors interleave).
    later = [(await register(registrar, ward=NGOC_HA)).citizen_id for _ in range(5)]
    await asyncio.gather(*(delivery.ApplyStatusChange(status_change(cid)) for cid in later))
    resumed = alerts_clients.watch(police, NGOC_HA, after_cursor=seen[-1].cursor)
    seen += await take(resumed, 5)
    await nothing_more(resumed, 0.5)
    resumed.cancel()

    assert [a.citizen_id for a in seen[:4]] == [*residents, live_resident]
    assert sorted(a.citizen_id for a in seen[4:]) == sorted(later)
    cursors = [a.cursor for a in seen]
    assert cursors == sorted(cursors)
    assert len(set(cursors)) == len({a.alert_id for a in seen}) == 9


async def test_alerts_stored_by_another_replica_reach_watchers_and_its_watchlist_reaches_scans(
    registrar: RegistryServiceAsyncStub,
    alerts_clients: AlertsClients,
    alerts_service: AlertsService,
    alerts_database_url: str,
    registry_server: Server,
    case_status_server: Server,
    token_issuer: TokenIssuer,
) -> None:
    checkpoint = await register_checkpoint(alerts_clients.alerts_stub(HOAN_KIEM_POLICE))
    cid = (await register(registrar, ward=GIANG_VO)).citizen_id
    stream = alerts_clients.watch(ward_police(GIANG_VO), GIANG_VO)
    # Reading with a timeout would cancel the call: give the stream time to start instead.
    await asyncio.sleep(0.2)

    engine = create_engine(alerts_database_url, pool_size=2)
    token = token_issuer.issue(SERVICE_CALLER)
    try:
        async with open_alerts(
            engine,
            f"127.0.0.1:{registry_server.port}",
            f"127.0.0.1:{case_status_server.port}",
            token,
            watchlist_poll_seconds=60,
        ) as other_replica:
            applied = await apply_status_change(
                other_replica, SERVICE_CALLER, read_status_change(status_change(cid))
            )
    finally:
        await engine.dispose()

    [alert] = await take(stream, 1)
    stream.cancel()
    assert (alert.alert_id, alert.citizen_id) == (applied.alerts[0].alert_id, cid)
    # The session's replica learns of the flag from the database within its staleness bound
    # (poll interval + one query; a loaded machine may stretch the query).
    for _ in range(100):
        if alerts_service.watchlist.get(cid) is not None:
            break
        await asyncio.sleep(ALERTS_POLL_SECONDS / 2)
    answer = await alerts_clients.alerts_stub(CHECKPOINT_OPERATOR).Scan(
        scan_request(checkpoint.code, cid)
    )
    assert answer.verdict == apb.VERDICT_WARN


async def test_watching_another_ward_is_refused(alerts_clients: AlertsClients) -> None:
    error = await expect_error(
        take(alerts_clients.watch(ward_police(NGOC_HA), GIANG_VO), 1),
        grpc.StatusCode.PERMISSION_DENIED,
    )

    assert error.reason == "OUT_OF_JURISDICTION"
