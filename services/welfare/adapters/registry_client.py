"""The registry, over gRPC with this service's token: residents and their households.

Only the registry's generated protos are imported (services share no Python code). All calls
are reads, so the channel retries them on UNAVAILABLE; when the registry still cannot answer,
the welfare call fails UNAVAILABLE too (FactsUnavailable) rather than decide without facts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import grpc
from dancu.registry.v1 import registry_service_pb2 as pb
from dancu.registry.v1 import registry_service_pb2_grpc as pb_grpc
from dancu.registry.v1 import resident_pb2 as rpb
from google.type.date_pb2 import Date

from services.kit.channels import open_channel, retry_service_config
from services.welfare.domain.facts import HouseholdRole, Member, Person
from services.welfare.ports import FactsUnavailable

SERVICE = pb.DESCRIPTOR.services_by_name["RegistryService"].full_name
_READS = ("GetResident", "BatchGetHouseholds")
OUTAGE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
_SEX = {rpb.SEX_MALE: "MALE", rpb.SEX_FEMALE: "FEMALE"}
_CAUSE = {rpb.DEATH_CAUSE_COVID19: "COVID19", rpb.DEATH_CAUSE_OTHER: "OTHER"}

Request = TypeVar("Request")
Response = TypeVar("Response")


def _day(value: Date) -> dt.date | None:
    return dt.date(value.year, value.month, value.day) if value.year else None


def _role(value: int) -> HouseholdRole | None:
    return HouseholdRole(value) if value in HouseholdRole._value2member_map_ else None


def person_from(resident: rpb.Resident) -> Person:
    death = resident.death if resident.HasField("death") else None
    temporary = (
        resident.temporary_residence.address.ward_code
        if resident.HasField("temporary_residence")
        else ""
    )
    born = _day(resident.birth_date)
    assert born is not None  # the registry requires a birth date
    return Person(
        citizen_id=resident.citizen_id,
        full_name=resident.full_name,
        birth_date=born,
        sex=_SEX.get(resident.sex, ""),
        permanent_ward=resident.permanent_residence.ward_code,
        province_code=resident.permanent_residence.province_code,
        temporary_ward=temporary,
        deceased=resident.civil_status == rpb.CIVIL_STATUS_DECEASED,
        death_date=_day(death.death_date) if death else None,
        death_cause=_CAUSE.get(death.cause, "") if death else "",
        household_id=resident.household_id,
        role=_role(resident.relationship_to_head),
    )


def member_from(member: rpb.HouseholdMember) -> Member:
    return Member(
        citizen_id=member.citizen_id,
        full_name=member.full_name,
        birth_date=_day(member.birth_date),
        role=_role(member.relationship_to_head),
        deceased=member.civil_status == rpb.CIVIL_STATUS_DECEASED,
    )


async def call(method: Callable[[Request], Awaitable[Response]], request: Request) -> Response:
    """One read; an outage of the service asked becomes FactsUnavailable."""
    try:
        return await method(request)
    except grpc.aio.AioRpcError as error:
        if error.code() in OUTAGE:
            raise FactsUnavailable(
                "FACTS_UNAVAILABLE", "the registry or case status did not answer; retry"
            ) from error
        raise


class GrpcRegistry:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._channel = channel
        self._stub = pb_grpc.RegistryServiceStub(channel)

    @classmethod
    def connect(cls, address: str, token: Callable[[], str]) -> GrpcRegistry:
        return cls(
            open_channel(address, token=token, service_config=retry_service_config(SERVICE, _READS))
        )

    async def close(self) -> None:
        await self._channel.close()

    async def person(self, citizen_id: str) -> Person | None:
        try:
            response = await call(
                self._stub.GetResident, pb.GetResidentRequest(citizen_id=citizen_id)
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return person_from(response.resident)

    async def household(self, citizen_id: str) -> Sequence[Member]:
        response = await call(
            self._stub.BatchGetHouseholds, pb.BatchGetHouseholdsRequest(citizen_ids=[citizen_id])
        )
        for household in response.households:
            if any(m.citizen_id == citizen_id for m in household.members):
                return [member_from(m) for m in household.members]
        return ()
