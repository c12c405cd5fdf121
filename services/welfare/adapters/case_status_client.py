"""Case status, over gRPC with this service's token: a resident's status timeline.

Only case status's generated protos are imported. The one call is a read, retried on
UNAVAILABLE; an outage becomes FactsUnavailable (the welfare call fails UNAVAILABLE).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import grpc
from dancu.case_status.v1 import case_pb2 as cpb
from dancu.case_status.v1 import case_status_service_pb2 as pb
from dancu.case_status.v1 import case_status_service_pb2_grpc as pb_grpc

from services.kit.channels import open_channel, retry_service_config
from services.welfare.adapters.registry_client import call
from services.welfare.domain.facts import CareSetting, CaseHistory, StatusChange
from services.welfare.domain.model import vietnam_date

SERVICE = pb.DESCRIPTOR.services_by_name["CaseStatusService"].full_name
_CLASSIFICATION = {
    cpb.CLASSIFICATION_F0: "F0",
    cpb.CLASSIFICATION_F1: "F1",
    cpb.CLASSIFICATION_F2: "F2",
    cpb.CLASSIFICATION_F3: "F3",
    cpb.CLASSIFICATION_CLEARED: "CLEARED",
}
_CARE = {
    cpb.CARE_SETTING_HOSPITAL: CareSetting.HOSPITAL,
    cpb.CARE_SETTING_CENTRALISED_QUARANTINE: CareSetting.CENTRALISED_QUARANTINE,
    cpb.CARE_SETTING_HOME_ISOLATION: CareSetting.HOME_ISOLATION,
}
_OUTCOME = {cpb.OUTCOME_RECOVERED: "RECOVERED", cpb.OUTCOME_DECEASED: "DECEASED"}


def change_from(event: cpb.StatusEvent) -> StatusChange:
    return StatusChange(
        on=vietnam_date(event.effective_time.ToDatetime(tzinfo=dt.UTC)),
        classification=_CLASSIFICATION.get(event.classification),
        care_setting=_CARE.get(event.care.setting) if event.HasField("care") else None,
        outcome=_OUTCOME.get(event.outcome),
    )


class GrpcCaseStatus:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._channel = channel
        self._stub = pb_grpc.CaseStatusServiceStub(channel)

    @classmethod
    def connect(cls, address: str, token: Callable[[], str]) -> GrpcCaseStatus:
        return cls(
            open_channel(
                address,
                token=token,
                service_config=retry_service_config(SERVICE, ["GetCaseStatus"]),
            )
        )

    async def close(self) -> None:
        await self._channel.close()

    async def history(self, citizen_id: str) -> CaseHistory:
        try:
            response = await call(
                self._stub.GetCaseStatus, pb.GetCaseStatusRequest(citizen_id=citizen_id)
            )
        except grpc.aio.AioRpcError as error:
            # Case status has never heard of the resident: no history.
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return CaseHistory()
            raise
        # Superseded events were corrected: their correction carries what holds.
        applied = [e for e in response.timeline if not e.superseded_by_event_id]
        applied.sort(key=lambda e: (e.effective_time.seconds, e.effective_time.nanos))
        return CaseHistory(tuple(change_from(e) for e in applied))
