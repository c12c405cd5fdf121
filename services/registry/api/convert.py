"""Protobuf messages to domain commands and domain values to messages."""

from __future__ import annotations

import datetime as dt

from dancu.registry.v1 import registry_service_pb2 as pb
from dancu.registry.v1 import resident_pb2 as rpb

from services.kit.protoconv import date_to_proto, timestamp_from_proto, timestamp_to_proto
from services.kit.request_reading import FieldReader
from services.registry.domain import commands
from services.registry.domain.matching import Candidate, Verification
from services.registry.domain.model import (
    Actor,
    Address,
    CivilStatus,
    CivilStatusCorrection,
    CivilStatusRecord,
    DeathCause,
    DeathRecord,
    Household,
    Relationship,
    ResidenceRecord,
    Resident,
    Sex,
    TemporaryResidence,
)
from services.registry.ports import WardDirectory


class Reader(FieldReader):
    """Reads registry request fields into domain values (see FieldReader)."""

    def temporary(self, message: rpb.TemporaryResidence, field: str) -> TemporaryResidence | None:
        valid_from = self.date(message.valid_from, f"{field}.valid_from", required=True)
        valid_to = self.date(message.valid_to, f"{field}.valid_to", required=False)
        if valid_from is None:
            return None
        return TemporaryResidence(address(message.address), valid_from, valid_to)


def address(message: rpb.Address) -> Address:
    return Address(message.ward_code.strip(), " ".join(message.street.split()))


def register_command(request: pb.RegisterResidentRequest) -> commands.RegisterResident:
    read = Reader()
    cmd = commands.RegisterResident(
        citizen_id=request.citizen_id.strip(),
        full_name=request.full_name,
        birth_date=read.date(request.birth_date, "birth_date", required=False),
        sex=read.enum(request.sex, Sex, "sex"),
        permanent_residence=address(request.permanent_residence),
        temporary_residence=(
            read.temporary(request.temporary_residence, "temporary_residence")
            if request.HasField("temporary_residence")
            else None
        ),
        household_id=request.household_id.strip(),
        relationship_to_head=read.enum(
            request.relationship_to_head, Relationship, "relationship_to_head"
        ),
    )
    read.done()
    return cmd


def search_query(request: pb.SearchResidentsRequest) -> commands.SearchQuery:
    read = Reader()
    query = commands.SearchQuery(
        name=request.name,
        birth_date=read.date(request.birth_date, "birth_date", required=False),
        birth_year=request.birth_year or None,
        ward_code=request.ward_code.strip() or None,
    )
    read.done()
    return query


def identity_claims(request: pb.VerifyIdentitiesRequest) -> list[commands.IdentityClaim]:
    """Claims with unreadable dates keep ``birth_date=None``: they are judged per item."""
    claims = []
    for claim in request.claims:
        birth_date: dt.date | None = None
        birth_date_invalid = False
        try:
            if claim.birth_date.year or claim.birth_date.month or claim.birth_date.day:
                birth_date = dt.date(
                    claim.birth_date.year, claim.birth_date.month, claim.birth_date.day
                )
        except ValueError:
            birth_date_invalid = True
        claims.append(
            commands.IdentityClaim(
                client_ref=claim.client_ref,
                citizen_id=claim.citizen_id.strip(),
                full_name=claim.full_name,
                birth_date=birth_date,
                ward_code=claim.ward_code.strip(),
                birth_date_invalid=birth_date_invalid,
            )
        )
    return claims


def update_residence_command(request: pb.UpdateResidenceRequest) -> commands.UpdateResidence:
    read = Reader()
    change: commands.ResidenceChange | None = None
    kind = request.WhichOneof("change")
    if kind == "permanent_move":
        change = commands.PermanentMove(
            address(request.permanent_move.address),
            read.date(
                request.permanent_move.effective_date,
                "permanent_move.effective_date",
                required=True,
            ),
        )
    elif kind == "temporary_registration":
        residence = read.temporary(request.temporary_registration, "temporary_registration")
        change = commands.TemporaryRegistration(residence) if residence else None
    elif kind == "end_temporary_residence":
        change = commands.EndTemporaryResidence(
            read.date(
                request.end_temporary_residence.end_date,
                "end_temporary_residence.end_date",
                required=True,
            )
        )
    read.done()
    return commands.UpdateResidence(
        citizen_id=request.citizen_id.strip(),
        etag=request.etag,
        change=change,
        reason=request.reason,
    )


def death_command(request: pb.RegisterDeathRequest) -> commands.RegisterDeath:
    read = Reader()
    death: DeathRecord | None = None
    if request.HasField("death"):
        message = request.death
        death_date = read.date(message.death_date, "death.death_date", required=True)
        cause = read.enum(message.cause, DeathCause, "death.cause")
        read.violations.check(message.cause != 0, "death.cause", "CAUSE_REQUIRED", "is required")
        if death_date is not None and cause is not None:
            death = DeathRecord(
                death_date=death_date,
                cause=cause,
                place=message.place.strip(),
                cause_detail=message.cause_detail.strip(),
                registration_ref=message.registration_ref.strip(),
                death_time=(
                    timestamp_from_proto(message.death_time)
                    if message.HasField("death_time")
                    else None
                ),
            )
    read.done()
    return commands.RegisterDeath(citizen_id=request.citizen_id.strip(), death=death)


def correction_command(
    request: pb.ProposeCivilStatusCorrectionRequest,
) -> commands.ProposeCorrection:
    read = Reader()
    status = read.enum(request.corrected_status, CivilStatus, "corrected_status")
    read.done()
    return commands.ProposeCorrection(
        citizen_id=request.citizen_id.strip(),
        etag=request.etag,
        corrected_status=status,
        reason=request.reason,
    )


class ResidentMessages:
    """Builds output messages; needs the ward directory for ward and province names."""

    def __init__(self, wards: WardDirectory) -> None:
        self._wards = wards

    def address(self, value: Address) -> rpb.Address:
        info = self._wards.info(value.ward_code)
        return rpb.Address(
            ward_code=value.ward_code,
            street=value.street,
            ward_name=info.name if info else "",
            province_code=info.province_code if info else "",
            province_name=info.province_name if info else "",
        )

    def resident(self, value: Resident) -> rpb.Resident:
        message = rpb.Resident(
            citizen_id=value.citizen_id,
            full_name=value.full_name,
            birth_date=date_to_proto(value.birth_date),
            sex=int(value.sex),  # type: ignore[arg-type]
            birth_registration_province_code=value.citizen_id[:3],
            permanent_residence=self.address(value.permanent_residence),
            household_id=value.household_id,
            relationship_to_head=int(value.relationship_to_head),  # type: ignore[arg-type]
            civil_status=int(value.civil_status),  # type: ignore[arg-type]
            etag=value.etag,
            create_time=timestamp_to_proto(value.created_at),
            update_time=timestamp_to_proto(value.updated_at),
        )
        if value.temporary_residence is not None:
            message.temporary_residence.CopyFrom(self.temporary(value.temporary_residence))
        if value.death is not None:
            message.death.CopyFrom(death(value.death))
        return message

    def temporary(self, value: TemporaryResidence) -> rpb.TemporaryResidence:
        return rpb.TemporaryResidence(
            address=self.address(value.address),
            valid_from=date_to_proto(value.valid_from),
            valid_to=date_to_proto(value.valid_to),
        )

    def residence_record(self, value: ResidenceRecord) -> pb.ResidenceRecord:
        return pb.ResidenceRecord(
            kind=int(value.kind),  # type: ignore[arg-type]
            address=self.address(value.address),
            valid_from=date_to_proto(value.valid_from),
            valid_to=date_to_proto(value.valid_to),
            recorded_by=actor(value.recorded_by),
            reason=value.reason,
            record_time=timestamp_to_proto(value.recorded_at),
        )


def death(value: DeathRecord) -> rpb.DeathRecord:
    return rpb.DeathRecord(
        death_date=date_to_proto(value.death_date),
        death_time=timestamp_to_proto(value.death_time),
        place=value.place,
        cause=int(value.cause),  # type: ignore[arg-type]
        cause_detail=value.cause_detail,
        registration_ref=value.registration_ref,
    )


def actor(value: Actor | None) -> rpb.Actor | None:
    return rpb.Actor(subject=value.subject, agency=value.agency) if value else None


def household(value: Household) -> rpb.Household:
    return rpb.Household(
        household_id=value.household_id,
        head_citizen_id=value.head_citizen_id or "",
        members=[
            rpb.HouseholdMember(
                citizen_id=m.citizen_id,
                full_name=m.full_name,
                birth_date=date_to_proto(m.birth_date),
                sex=int(m.sex),  # type: ignore[arg-type]
                relationship_to_head=int(m.relationship_to_head),  # type: ignore[arg-type]
                civil_status=int(m.civil_status),  # type: ignore[arg-type]
            )
            for m in value.members
        ],
    )


def correction(value: CivilStatusCorrection) -> pb.CivilStatusCorrection:
    return pb.CivilStatusCorrection(
        correction_id=value.correction_id,
        citizen_id=value.citizen_id,
        corrected_status=int(value.corrected_status),  # type: ignore[arg-type]
        reason=value.reason,
        state=int(value.state),  # type: ignore[arg-type]
        proposed_by=actor(value.proposed_by),
        approved_by=actor(value.approved_by),
        propose_time=timestamp_to_proto(value.proposed_at),
        apply_time=timestamp_to_proto(value.applied_at),
    )


def civil_status_record(value: CivilStatusRecord) -> pb.CivilStatusRecord:
    return pb.CivilStatusRecord(
        civil_status=int(value.civil_status),  # type: ignore[arg-type]
        death=death(value.death) if value.death else None,
        recorded_by=actor(value.recorded_by),
        reason=value.reason,
        record_time=timestamp_to_proto(value.recorded_at),
        correction_id=value.correction_id or "",
        approved_by=actor(value.approved_by),
    )


def candidate(value: Candidate) -> pb.IdentityCandidate:
    return pb.IdentityCandidate(
        citizen_id=value.citizen_id,
        full_name=value.full_name,
        birth_date=date_to_proto(value.birth_date),
        permanent_ward_code=value.permanent_ward_code,
        temporary_ward_code=value.temporary_ward_code or "",
        civil_status=int(value.civil_status),  # type: ignore[arg-type]
    )


def verification(value: Verification) -> pb.IdentityVerification:
    return pb.IdentityVerification(
        index=value.index,
        client_ref=value.client_ref,
        outcome=int(value.outcome),  # type: ignore[arg-type]
        match=candidate(value.match) if value.match else None,
        differing_fields=list(value.differing_fields),
        candidates=[candidate(c) for c in value.candidates],
        problem=value.problem,
    )
