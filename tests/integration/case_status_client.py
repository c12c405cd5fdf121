"""Calling case status in integration tests: callers, request builders.

The server runs once per session against the session's registry server, so every test
registers its own residents in the registry first (``registry_client.register``).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from dancu.case_status.v1 import case_pb2 as cpb
from dancu.case_status.v1 import case_status_service_pb2 as pb
from dancu.case_status.v1 import case_status_service_pb2_grpc as pb_grpc
from google.protobuf.timestamp_pb2 import Timestamp

from services.kit.auth import EVERY_WARD, Identity
from tests.integration.registry_client import (
    HOAN_KIEM,
    RegistryClients,
    date,
    new_request_id,
)

if TYPE_CHECKING:
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub

CDC = Identity("cdc-hn-01", "cdc-ha-noi", frozenset({"health_agency"}), EVERY_WARD)
HOAN_KIEM_POLICE = Identity(
    "police-hk-07", "cong-an-hoan-kiem", frozenset({"ward_police"}), frozenset({HOAN_KIEM})
)
TAY_HO_POLICE = Identity(
    "police-th-02", "cong-an-tay-ho", frozenset({"ward_police"}), frozenset({"00103"})
)
REGISTRAR = Identity("registrar-hn-01", "cong-an-ha-noi", frozenset({"registrar"}), EVERY_WARD)


class CaseStatusClients(RegistryClients):
    """Channels to the case-status server under test (one per caller, token in every call)."""

    def case_stub(self, identity: Identity) -> CaseStatusServiceAsyncStub:
        token = self.issuer.issue(identity)
        return pb_grpc.CaseStatusServiceStub(self._channel(identity, token))


def hours_ago(hours: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)


def timestamp(value: dt.datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value.astimezone(dt.UTC))
    return stamp


def status_request(
    citizen_id: str,
    *,
    at: dt.datetime | None = None,
    classification: int = 0,
    outcome: int = 0,
    condition: int = 0,
    care: cpb.Care | None = None,
    reason: str = "",
    corrects_event_id: str = "",
    request_id: str | None = None,
) -> pb.RecordStatusRequest:
    event = cpb.StatusEvent(
        citizen_id=citizen_id,
        effective_time=timestamp(at or hours_ago(1)),
        classification=classification,  # type: ignore[arg-type]
        outcome=outcome,  # type: ignore[arg-type]
        condition=condition,  # type: ignore[arg-type]
        source=cpb.Source(agency="cdc-ha-noi", list_id="HN-2021-09-01"),
        reason=reason,
        corrects_event_id=corrects_event_id,
    )
    if care is not None:
        event.care.CopyFrom(care)
    return pb.RecordStatusRequest(request_id=request_id or new_request_id(), event=event)


def link(contact: str, source: str, day: dt.date) -> cpb.ExposureLink:
    return cpb.ExposureLink(
        contact_citizen_id=contact,
        source_citizen_id=source,
        contact_date=date(day),
        setting=cpb.CONTACT_SETTING_WORKPLACE,
    )


def contacts_request(*links: cpb.ExposureLink) -> pb.RecordContactsRequest:
    return pb.RecordContactsRequest(request_id=new_request_id(), links=list(links))
