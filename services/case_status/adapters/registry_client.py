"""The registry, over gRPC with this service's token: residents and households.

Only the registry's generated protos are imported (services share no Python code). All calls
are reads, so the channel retries them on UNAVAILABLE; when the registry still cannot answer,
the case-status call fails UNAVAILABLE too (RegistryUnavailable) rather than guess.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

import grpc
from dancu.registry.v1 import registry_service_pb2 as pb
from dancu.registry.v1 import registry_service_pb2_grpc as pb_grpc
from dancu.registry.v1 import resident_pb2 as rpb
from google.type.date_pb2 import Date

from services.case_status.domain.imports import RowCandidate
from services.case_status.ports import (
    IdentityClaim,
    RegistryUnavailable,
    ResidenceKind,
    ResidentFacts,
    Verification,
    VerificationOutcome,
    WardPage,
    WardResident,
)
from services.kit.channels import open_channel, retry_service_config

SERVICE = pb.DESCRIPTOR.services_by_name["RegistryService"].full_name
_READS = (
    "GetResident",
    "BatchGetHouseholds",
    "BatchGetResidents",
    "SearchResidents",
    "VerifyIdentities",
)
MAX_CLAIMS = 5000
MAX_BATCH_GET = 1000
_OUTAGE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


def _unavailable() -> RegistryUnavailable:
    return RegistryUnavailable("REGISTRY_UNAVAILABLE", "the registry did not answer; retry")


def _day(value: Date) -> dt.date | None:
    return dt.date(value.year, value.month, value.day) if value.year else None


def _facts(resident: rpb.Resident) -> ResidentFacts:
    wards = {resident.permanent_residence.ward_code}
    temporary = None
    if resident.HasField("temporary_residence"):
        temporary = resident.temporary_residence
        wards.add(temporary.address.ward_code)
    death = resident.death.death_date if resident.HasField("death") else None
    return ResidentFacts(
        citizen_id=resident.citizen_id,
        deceased=resident.civil_status == rpb.CIVIL_STATUS_DECEASED,
        death_date=_day(death) if death else None,
        wards=frozenset(w for w in wards if w),
        permanent_ward=resident.permanent_residence.ward_code,
        province_code=resident.permanent_residence.province_code,
        temporary_ward=temporary.address.ward_code if temporary else None,
        temporary_from=_day(temporary.valid_from) if temporary else None,
        temporary_to=_day(temporary.valid_to) if temporary else None,
    )


def _candidate(candidate: pb.IdentityCandidate) -> RowCandidate:
    return RowCandidate(
        citizen_id=candidate.citizen_id,
        full_name=candidate.full_name,
        birth_date=_day(candidate.birth_date),
        ward_code=candidate.permanent_ward_code,
        deceased=candidate.civil_status == rpb.CIVIL_STATUS_DECEASED,
        temporary_ward=candidate.temporary_ward_code,
    )


def _verification(result: pb.IdentityVerification) -> Verification:
    return Verification(
        outcome=VerificationOutcome(result.outcome),
        match=_candidate(result.match) if result.HasField("match") else None,
        differing_fields=tuple(result.differing_fields),
        candidates=tuple(_candidate(c) for c in result.candidates),
        problem=result.problem,
    )


def _claim(claim: IdentityClaim) -> pb.IdentityClaim:
    message = pb.IdentityClaim(
        client_ref=claim.client_ref,
        citizen_id=claim.citizen_id,
        full_name=claim.full_name,
        ward_code=claim.ward_code,
    )
    if claim.birth_date is not None:
        born = claim.birth_date
        message.birth_date.CopyFrom(Date(year=born.year, month=born.month, day=born.day))
    return message


# Batches of one large call (a 50,000-row list is ten VerifyIdentities and fifty
# BatchGetResidents) run this many at a time: enough to keep the registry and its database
# busy, few enough that no batch waits past its deadline behind the others.
MAX_BATCHES_IN_FLIGHT = 4

Request = TypeVar("Request")
Response = TypeVar("Response")
Item = TypeVar("Item")


class GrpcRegistry:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._channel = channel
        self._stub = pb_grpc.RegistryServiceStub(channel)
        self._batches = asyncio.Semaphore(MAX_BATCHES_IN_FLIGHT)

    @classmethod
    def connect(cls, address: str, token: Callable[[], str]) -> GrpcRegistry:
        return cls(
            open_channel(address, token=token, service_config=retry_service_config(SERVICE, _READS))
        )

    async def close(self) -> None:
        await self._channel.close()

    async def _call(
        self, method: Callable[[Request], Awaitable[Response]], request: Request
    ) -> Response:
        async with self._batches:
            try:
                return await method(request)
            except grpc.aio.AioRpcError as error:
                if error.code() in _OUTAGE:
                    raise _unavailable() from error
                raise

    async def _batched(
        self,
        items: Sequence[Item],
        size: int,
        ask: Callable[[Sequence[Item]], Awaitable[Sequence[Response]]],
    ) -> list[Response]:
        """``ask`` for each slice of ``size`` items, concurrently; the answers in order."""
        slices = [items[start : start + size] for start in range(0, len(items), size)]
        answers = await asyncio.gather(*map(ask, slices))
        return [answer for part in answers for answer in part]

    async def resident(self, citizen_id: str) -> ResidentFacts | None:
        try:
            response = await self._call(
                self._stub.GetResident, pb.GetResidentRequest(citizen_id=citizen_id)
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return _facts(response.resident)

    async def household_members(self, citizen_id: str) -> Sequence[ResidentFacts]:
        return (await self.households([citizen_id])).get(citizen_id, ())

    async def households(self, citizen_ids: Sequence[str]) -> Mapping[str, Sequence[ResidentFacts]]:
        async def ask(part: Sequence[str]) -> Sequence[rpb.Household]:
            request = pb.BatchGetHouseholdsRequest(citizen_ids=part)
            return (await self._call(self._stub.BatchGetHouseholds, request)).households

        found = await self._batched(list(dict.fromkeys(citizen_ids)), MAX_BATCH_GET, ask)
        # Each member's residence too (for the residence snapshot): batch calls as well.
        members = await self.residents([m.citizen_id for h in found for m in h.members])
        facts = {f.citizen_id: f for f in members}
        wanted = set(citizen_ids)
        households: dict[str, Sequence[ResidentFacts]] = {}
        for household in found:
            living = tuple(facts[m.citizen_id] for m in household.members if m.citizen_id in facts)
            for member in household.members:
                if member.citizen_id in wanted:
                    households[member.citizen_id] = living
        return households

    async def residents_in_ward(self, ward_code: str, page_size: int, page_token: str) -> WardPage:
        response = await self._call(
            self._stub.SearchResidents,
            pb.SearchResidentsRequest(
                ward_code=ward_code, page_size=page_size, page_token=page_token
            ),
        )
        return WardPage(
            residents=tuple(
                WardResident(
                    r.citizen_id,
                    ResidenceKind.PERMANENT
                    if r.permanent_residence.ward_code == ward_code
                    else ResidenceKind.TEMPORARY,
                )
                for r in response.residents
            ),
            next_page_token=response.next_page_token,
        )

    async def residents(self, citizen_ids: Sequence[str]) -> Sequence[ResidentFacts]:
        async def ask(part: Sequence[str]) -> Sequence[ResidentFacts]:
            request = pb.BatchGetResidentsRequest(citizen_ids=part)
            response = await self._call(self._stub.BatchGetResidents, request)
            return [_facts(resident) for resident in response.residents]

        return await self._batched(list(dict.fromkeys(citizen_ids)), MAX_BATCH_GET, ask)

    async def verify_identities(self, claims: Sequence[IdentityClaim]) -> Sequence[Verification]:
        async def ask(part: Sequence[IdentityClaim]) -> Sequence[Verification]:
            request = pb.VerifyIdentitiesRequest(claims=[_claim(c) for c in part])
            response = await self._call(self._stub.VerifyIdentities, request)
            return [_verification(r) for r in response.results]

        return await self._batched(claims, MAX_CLAIMS, ask)
