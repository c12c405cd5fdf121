"""The registry, as the workflows use it: a resident's civil status, and registering a death."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from dancu.registry.v1 import registry_service_pb2 as pb
from dancu.registry.v1 import registry_service_pb2_grpc as pb_grpc
from dancu.registry.v1 import resident_pb2 as rpb

from services.kit.channels import open_channel, retry_service_config
from workflows.gateways import final_or_retry

SERVICE = pb.DESCRIPTOR.services_by_name["RegistryService"].full_name
# RegisterDeath is idempotent by its request id, so it may be retried like the read.
_IDEMPOTENT = ("GetResident", "RegisterDeath")


@dataclass(frozen=True)
class CivilStatus:
    citizen_id: str
    alive: bool
    # Set when deceased (ISO date).
    death_date: str
    # COVID19, OTHER or "".
    death_cause: str


def _status(resident: rpb.Resident) -> CivilStatus:
    deceased = resident.civil_status == rpb.CIVIL_STATUS_DECEASED
    day = resident.death.death_date
    return CivilStatus(
        citizen_id=resident.citizen_id,
        alive=not deceased,
        death_date=dt.date(day.year, day.month, day.day).isoformat() if deceased else "",
        death_cause=rpb.DeathCause.Name(resident.death.cause).removeprefix("DEATH_CAUSE_")
        if deceased
        else "",
    )


class RegistryGateway:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._channel = channel
        self._stub = pb_grpc.RegistryServiceStub(channel)

    @classmethod
    def connect(cls, address: str, token: Callable[[], str]) -> RegistryGateway:
        config = retry_service_config(SERVICE, _IDEMPOTENT)
        return cls(open_channel(address, token=token, service_config=config))

    async def close(self) -> None:
        await self._channel.close()

    async def civil_status(self, citizen_id: str) -> CivilStatus:
        """The resident as registered (NOT_FOUND: no such resident, non-retryable)."""
        try:
            response = await self._stub.GetResident(pb.GetResidentRequest(citizen_id=citizen_id))
        except grpc.aio.AioRpcError as error:
            raise final_or_retry(error) from None
        return _status(response.resident)

    async def register_death(
        self,
        citizen_id: str,
        death_date: dt.date,
        cause_detail: str,
        place: str,
        request_id: str,
    ) -> CivilStatus:
        """Registers a death from COVID-19 (no registration number yet: the civil-status office
        issues it later)."""
        death = rpb.DeathRecord(
            cause=rpb.DEATH_CAUSE_COVID19, cause_detail=cause_detail, place=place
        )
        death.death_date.year, death.death_date.month, death.death_date.day = (
            death_date.year,
            death_date.month,
            death_date.day,
        )
        try:
            response = await self._stub.RegisterDeath(
                pb.RegisterDeathRequest(request_id=request_id, citizen_id=citizen_id, death=death)
            )
        except grpc.aio.AioRpcError as error:
            raise final_or_retry(error) from None
        return _status(response.resident)
