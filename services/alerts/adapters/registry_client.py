"""The registry, over gRPC with this service's token: where a resident lives.

Only the registry's generated protos are imported (services share no Python code). The call
is a read, so the channel retries it on UNAVAILABLE; when the registry still cannot answer, the
alerts call fails UNAVAILABLE too (RegistryUnavailable), to be delivered again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import grpc
from dancu.registry.v1 import registry_service_pb2 as pb
from dancu.registry.v1 import registry_service_pb2_grpc as pb_grpc
from google.type.date_pb2 import Date

from services.alerts.domain.model import Residence
from services.alerts.ports import RegistryUnavailable
from services.kit.channels import open_channel, retry_service_config

SERVICE = pb.DESCRIPTOR.services_by_name["RegistryService"].full_name
_OUTAGE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


def _day(value: Date) -> dt.date | None:
    return dt.date(value.year, value.month, value.day) if value.year else None


class GrpcRegistry:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._channel = channel
        self._stub = pb_grpc.RegistryServiceStub(channel)

    @classmethod
    def connect(cls, address: str, token: Callable[[], str]) -> GrpcRegistry:
        return cls(
            open_channel(
                address, token=token, service_config=retry_service_config(SERVICE, ["GetResident"])
            )
        )

    async def close(self) -> None:
        await self._channel.close()

    async def residence(self, citizen_id: str) -> Residence | None:
        try:
            response = await self._stub.GetResident(pb.GetResidentRequest(citizen_id=citizen_id))
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            if error.code() in _OUTAGE:
                raise RegistryUnavailable(
                    "REGISTRY_UNAVAILABLE", "the registry did not answer; retry"
                ) from error
            raise
        resident = response.resident
        if not resident.HasField("temporary_residence"):
            return Residence(resident.permanent_residence.ward_code)
        temporary = resident.temporary_residence
        return Residence(
            permanent_ward=resident.permanent_residence.ward_code,
            temporary_ward=temporary.address.ward_code or None,
            temporary_from=_day(temporary.valid_from),
            temporary_to=_day(temporary.valid_to),
        )
