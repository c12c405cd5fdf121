"""Calling the alerts service in integration tests: callers, request builders, residents.

The server runs once per session against the session's registry and case-status servers, so
every test registers its own residents and checkpoints (codes from ``new_checkpoint_code``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import TYPE_CHECKING

import grpc
from dancu.alerts.v1 import alert_pb2 as apb
from dancu.alerts.v1 import alerts_service_pb2 as pb
from dancu.alerts.v1 import alerts_service_pb2_grpc as pb_grpc
from dancu.registry.v1 import resident_pb2 as rpb
from google.protobuf.timestamp_pb2 import Timestamp

from services.kit.auth import EVERY_WARD, Identity
from tests.integration.registry_client import (
    CUA_NAM,
    HOAN_KIEM,
    TAY_HO,
    RegistryClients,
    date,
    new_request_id,
    register,
    today,
)

if TYPE_CHECKING:
    from dancu.alerts.v1.alerts_service_pb2_grpc import AlertsServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub

CHECKPOINT_AGENCY = "cong-an-phuong-hoan-kiem"
CHECKPOINT_OPERATOR = Identity(
    "checkpoint-hk-01", CHECKPOINT_AGENCY, frozenset({"checkpoint"}), frozenset({HOAN_KIEM})
)
OTHER_OPERATOR = Identity(
    "checkpoint-th-01", "cong-an-phuong-tay-ho", frozenset({"checkpoint"}), frozenset({TAY_HO})
)
HOAN_KIEM_POLICE = Identity(
    "police-hk-07", CHECKPOINT_AGENCY, frozenset({"ward_police"}), frozenset({HOAN_KIEM})
)
CUA_NAM_POLICE = Identity(
    "police-cn-03", "cong-an-phuong-cua-nam", frozenset({"ward_police"}), frozenset({CUA_NAM})
)
TAY_HO_POLICE = Identity(
    "police-th-02", "cong-an-phuong-tay-ho", frozenset({"ward_police"}), frozenset({TAY_HO})
)
CITY_POLICE = Identity("police-hn-01", "cong-an-ha-noi", frozenset({"ward_police"}), EVERY_WARD)
CDC = Identity("cdc-hn-01", "cdc-ha-noi", frozenset({"health_agency"}), EVERY_WARD)

_checkpoints = itertools.count(1)


class AlertsClients(RegistryClients):
    """Channels to the alerts server under test (one per caller, token in every call)."""

    def alerts_stub(self, identity: Identity) -> AlertsServiceAsyncStub:
        token = self.issuer.issue(identity)
        return pb_grpc.AlertsServiceStub(self._channel(identity, token))

    def watch(
        self, identity: Identity, ward_code: str, after_cursor: int = 0
    ) -> grpc.aio.UnaryStreamCall[pb.WatchAlertsRequest, pb.WatchAlertsResponse]:
        """A WatchAlerts stream (the channels' token interceptor covers unary calls only)."""
        stub = pb_grpc.AlertsServiceStub(self.channel)
        token = self.issuer.issue(identity)
        return stub.WatchAlerts(
            pb.WatchAlertsRequest(ward_code=ward_code, after_cursor=after_cursor),
            metadata=(("authorization", f"Bearer {token}"),),
        )


def new_checkpoint_code() -> str:
    return f"HK-{uuid.uuid4().hex[:6].upper()}-{next(_checkpoints)}"


def timestamp(value: dt.datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value.astimezone(dt.UTC))
    return stamp


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def register_checkpoint(
    police: AlertsServiceAsyncStub,
    *,
    ward: str = HOAN_KIEM,
    agency: str = CHECKPOINT_AGENCY,
    reveal_level: bool = False,
) -> apb.Checkpoint:
    response = await police.RegisterCheckpoint(
        pb.RegisterCheckpointRequest(
            request_id=new_request_id(),
            checkpoint=apb.Checkpoint(
                code=new_checkpoint_code(),
                name="Chốt Hàng Bài",
                ward_code=ward,
                operating_agency=agency,
                reveal_level=reveal_level,
            ),
        )
    )
    return response.checkpoint


async def resident_with_temporary_stay(
    registrar: RegistryServiceAsyncStub, *, permanent: str = HOAN_KIEM, temporary: str = CUA_NAM
) -> rpb.Resident:
    """A resident living permanently in one ward with an active temporary stay in another."""
    stay = rpb.TemporaryResidence(
        address=rpb.Address(ward_code=temporary, street="5 Lý Thường Kiệt"),
        valid_from=date(today() - dt.timedelta(days=10)),
    )
    return await register(registrar, ward=permanent, temporary=stay)


def status_change(
    citizen_id: str,
    *,
    classification: int = apb.CLASSIFICATION_F0,
    outcome: int = 0,
    at: dt.datetime | None = None,
    care_ward_code: str = "",
    event_id: str | None = None,
) -> pb.ApplyStatusChangeRequest:
    """A case_status.status_changed.v1 event as the workflows deliver it."""
    return pb.ApplyStatusChangeRequest(
        event_id=str(uuid.uuid4()) if event_id is None else event_id,
        citizen_id=citizen_id,
        classification=classification,  # type: ignore[arg-type]
        level_origin=apb.LEVEL_ORIGIN_REPORTED,
        outcome=outcome,  # type: ignore[arg-type]
        effective_time=timestamp(at or now() - dt.timedelta(hours=1)),
        care_ward_code=care_ward_code,
    )


def scan_request(
    checkpoint_code: str, citizen_id: str, *, request_id: str | None = None
) -> pb.ScanRequest:
    return pb.ScanRequest(
        request_id=request_id or new_request_id(),
        checkpoint_code=checkpoint_code,
        qr_payload=f"DC1:{citizen_id}",
    )
