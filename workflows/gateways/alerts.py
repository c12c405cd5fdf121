"""Alerts, as the workflows use it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from dancu.alerts.v1 import alert_pb2 as apb
from dancu.alerts.v1 import alerts_service_pb2 as pb
from dancu.alerts.v1 import alerts_service_pb2_grpc as pb_grpc

from services.kit.channels import open_channel, retry_service_config
from workflows.gateways import final_or_retry

SERVICE = pb.DESCRIPTOR.services_by_name["AlertsService"].full_name
# ApplyStatusChange and ApplyResidenceChange are idempotent by event id.
_IDEMPOTENT = ("ApplyStatusChange", "ApplyResidenceChange")


@dataclass(frozen=True)
class StatusChangeApplied:
    already_applied: bool
    wards: tuple[str, ...]


@dataclass(frozen=True)
class ResidenceChangeApplied:
    flagged: bool
    # The wards alerted because the resident moved into them.
    wards: tuple[str, ...]


def _enum(kind: Any, prefix: str, name: object) -> int:
    return int(kind.Value(f"{prefix}{name}")) if name else 0


def status_change_request(event_id: str, payload: Mapping[str, Any]) -> pb.ApplyStatusChangeRequest:
    """The ``case_status.status_changed.v1`` payload (docs/api/case_status.md) as alerts takes
    it."""
    request = pb.ApplyStatusChangeRequest(
        event_id=event_id,
        citizen_id=str(payload["citizen_id"]),
        classification=_enum(apb.Classification, "CLASSIFICATION_", payload.get("classification")),  # type: ignore[arg-type]
        level_origin=_enum(apb.LevelOrigin, "LEVEL_ORIGIN_", payload.get("level_origin")),  # type: ignore[arg-type]
        outcome=_enum(apb.Outcome, "OUTCOME_", payload.get("outcome")),  # type: ignore[arg-type]
        corrects_event_id=str(payload.get("corrects_event_id") or ""),
        care_ward_code=str(payload.get("care_ward_code") or ""),
    )
    request.effective_time.FromDatetime(dt.datetime.fromisoformat(str(payload["effective_time"])))
    if payload.get("isolation_end"):
        end = dt.date.fromisoformat(str(payload["isolation_end"]))
        request.isolation_end.year, request.isolation_end.month, request.isolation_end.day = (
            end.year,
            end.month,
            end.day,
        )
    return request


class AlertsGateway:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._channel = channel
        self._stub = pb_grpc.AlertsServiceStub(channel)

    @classmethod
    def connect(cls, address: str, token: Callable[[], str]) -> AlertsGateway:
        config = retry_service_config(SERVICE, _IDEMPOTENT)
        return cls(open_channel(address, token=token, service_config=config))

    async def close(self) -> None:
        await self._channel.close()

    async def apply_status_change(
        self, event_id: str, payload: Mapping[str, Any]
    ) -> StatusChangeApplied:
        try:
            response = await self._stub.ApplyStatusChange(status_change_request(event_id, payload))
        except grpc.aio.AioRpcError as error:
            raise final_or_retry(error) from None
        return StatusChangeApplied(
            response.already_applied, tuple(alert.ward_code for alert in response.alerts)
        )

    async def apply_residence_change(
        self, event_id: str, citizen_id: str
    ) -> ResidenceChangeApplied:
        try:
            response = await self._stub.ApplyResidenceChange(
                pb.ApplyResidenceChangeRequest(event_id=event_id, citizen_id=citizen_id)
            )
        except grpc.aio.AioRpcError as error:
            raise final_or_retry(error) from None
        return ResidenceChangeApplied(
            response.flagged, tuple(alert.ward_code for alert in response.alerts)
        )
