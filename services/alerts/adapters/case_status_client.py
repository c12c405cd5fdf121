"""Case status, over gRPC with this service's token: a resident's status now.

Only case status's generated protos are imported. GetCaseStatus is a read: retried on
UNAVAILABLE; when case status still cannot answer, the call fails UNAVAILABLE
(CaseStatusUnavailable) rather than guess.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc
from dancu.case_status.v1 import case_status_service_pb2 as pb
from dancu.case_status.v1 import case_status_service_pb2_grpc as pb_grpc

from services.alerts.domain.model import CaseFacts, Classification, Outcome
from services.alerts.ports import CaseStatusUnavailable
from services.kit.channels import open_channel, retry_service_config

SERVICE = pb.DESCRIPTOR.services_by_name["CaseStatusService"].full_name
_OUTAGE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


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

    async def current(self, citizen_id: str) -> CaseFacts | None:
        try:
            response = await self._stub.GetCaseStatus(
                pb.GetCaseStatusRequest(citizen_id=citizen_id)
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            if error.code() in _OUTAGE:
                raise CaseStatusUnavailable(
                    "CASE_STATUS_UNAVAILABLE", "case status did not answer; retry"
                ) from error
            raise
        status = response.status
        # Both enumerations carry case status's numbers.
        return CaseFacts(
            classification=Classification(status.classification) if status.classification else None,
            outcome=Outcome(status.outcome) if status.outcome else None,
        )
