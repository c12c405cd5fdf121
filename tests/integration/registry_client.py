"""Calling the registry in integration tests: callers, request builders, errors, the database.

Everything here is plain code the fixtures in ``conftest.py`` and the tests share. The server
under test runs once per session on one database, so every test makes its own residents:
``new_citizen_id`` and ``name_tag`` hand out values no other test uses.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
import psycopg
import pytest
from dancu.registry.v1 import registry_service_pb2 as pb
from dancu.registry.v1 import registry_service_pb2_grpc as pb_grpc
from dancu.registry.v1 import resident_pb2 as rpb
from google.rpc import error_details_pb2
from google.type.date_pb2 import Date
from grpc_status import rpc_status
from psycopg.rows import DictRow, dict_row

from services.kit.auth import EVERY_WARD, Identity, TokenIssuer
from services.registry.domain.citizen_id import compose
from services.registry.domain.model import Sex

if TYPE_CHECKING:
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub

# Wards of the official list (post-2025 codes), all in Hà Nội (province "01").
HOAN_KIEM = "00070"
BA_DINH = "00004"
CUA_NAM = "00073"
TAY_HO = "00103"
UNKNOWN_WARD = "99999"

# Residence and civil status follow Vietnam's calendar (as the registry does).
VIETNAM = dt.timezone(dt.timedelta(hours=7))

SERVICE = "dancu.registry.v1.RegistryService"

# The callers. Subjects and agencies are what the audit log must name.
REGISTRAR = Identity("registrar-hn-01", "cong-an-ha-noi", frozenset({"registrar"}), EVERY_WARD)
HOAN_KIEM_REGISTRAR = Identity(
    "registrar-hk-01", "cong-an-hoan-kiem", frozenset({"registrar"}), frozenset({HOAN_KIEM})
)
HOAN_KIEM_POLICE = Identity(
    "police-hk-07", "cong-an-hoan-kiem", frozenset({"ward_police"}), frozenset({HOAN_KIEM})
)
CIVIL_OFFICER = Identity(
    "civil-hn-01", "so-tu-phap-ha-noi", frozenset({"civil_status_officer"}), EVERY_WARD
)
SECOND_CIVIL_OFFICER = Identity(
    "civil-hn-02", "so-tu-phap-ha-noi", frozenset({"civil_status_officer"}), EVERY_WARD
)
HEALTH_AGENCY = Identity("cdc-hn-import", "cdc-ha-noi", frozenset({"health_agency"}), EVERY_WARD)
SERVICE_CALLER = Identity("svc-case-status", "dancu", frozenset({"service"}), EVERY_WARD)
NO_ROLE = Identity("visitor-01", "unknown-agency", frozenset({"visitor"}), EVERY_WARD)

_serials = itertools.count(1)
_tags = itertools.count(0)


def today() -> dt.date:
    return dt.datetime.now(VIETNAM).date()


def new_citizen_id(*, sex: Sex = Sex.MALE, birth_year: int = 1985, province: int = 1) -> str:
    """A well-formed id consistent with ``sex`` and ``birth_year``, unused in this run."""
    return compose(province, sex, birth_year, next(_serials))


def name_tag() -> str:
    """A made-up word unique in this run, all letters, always six long: "Zxaaaa", "Zxaaab".

    Fixed length, so a name search for one tag's prefix never finds another tag's names.
    """
    n = next(_tags)
    letters = []
    for _ in range(4):
        n, rest = divmod(n, 26)
        letters.append(chr(ord("a") + rest))
    return "Zx" + "".join(reversed(letters))


def new_request_id() -> str:
    return str(uuid.uuid4())


def date(value: dt.date) -> Date:
    return Date(year=value.year, month=value.month, day=value.day)


def py_date(value: Date) -> dt.date:
    return dt.date(value.year, value.month, value.day)


# --- requests ------------------------------------------------------------------------------


def registration(
    *,
    citizen_id: str | None = None,
    full_name: str | None = None,
    birth_date: dt.date = dt.date(1985, 4, 2),
    sex: Sex = Sex.MALE,
    ward: str = HOAN_KIEM,
    street: str = "12 Hàng Bài",
    household_id: str = "",
    relationship: rpb.Relationship.ValueType = rpb.RELATIONSHIP_HEAD,
    temporary: rpb.TemporaryResidence | None = None,
    request_id: str | None = None,
) -> pb.RegisterResidentRequest:
    """A valid registration; a new household's head unless ``household_id`` is given."""
    request = pb.RegisterResidentRequest(
        request_id=request_id or new_request_id(),
        citizen_id=citizen_id or new_citizen_id(sex=sex, birth_year=birth_date.year),
        full_name=full_name or f"Lê Văn {name_tag()}",
        birth_date=date(birth_date),
        sex=rpb.SEX_MALE if sex is Sex.MALE else rpb.SEX_FEMALE,
        permanent_residence=rpb.Address(ward_code=ward, street=street),
        household_id=household_id,
        relationship_to_head=relationship,
    )
    if temporary is not None:
        request.temporary_residence.CopyFrom(temporary)
    return request


async def register(stub: RegistryServiceAsyncStub, **fields: Any) -> rpb.Resident:
    """Registers a resident (see ``registration`` for the fields) and returns it."""
    response = await stub.RegisterResident(registration(**fields))
    return response.resident


async def register_stay(
    registrar: RegistryServiceAsyncStub, resident: rpb.Resident, ward: str
) -> rpb.Resident:
    """Registers a temporary residence in ``ward`` (from 20 days ago) for ``resident``."""
    stay = rpb.TemporaryResidence(
        address=rpb.Address(ward_code=ward, street="3 Kim Mã"),
        valid_from=date(today() - dt.timedelta(days=20)),
    )
    response = await registrar.UpdateResidence(
        pb.UpdateResidenceRequest(
            request_id=new_request_id(),
            citizen_id=resident.citizen_id,
            etag=resident.etag,
            temporary_registration=stay,
            reason="đăng ký tạm trú",
        )
    )
    return response.resident


async def staying_in(
    registrar: RegistryServiceAsyncStub, ward: str, *, ended: bool = False
) -> rpb.Resident:
    """A Hoàn Kiếm resident with a temporary residence in ``ward`` (ended yesterday if
    ``ended``)."""
    resident = await register_stay(registrar, await register(registrar, ward=HOAN_KIEM), ward)
    if not ended:
        return resident
    response = await registrar.UpdateResidence(
        pb.UpdateResidenceRequest(
            request_id=new_request_id(),
            citizen_id=resident.citizen_id,
            etag=resident.etag,
            end_temporary_residence=pb.EndTemporaryResidence(
                end_date=date(today() - dt.timedelta(days=1))
            ),
            reason="kết thúc tạm trú",
        )
    )
    return response.resident


def death_record(
    *,
    death_date: dt.date = dt.date(2021, 8, 14),
    cause: rpb.DeathCause.ValueType = rpb.DEATH_CAUSE_COVID19,
    place: str = "Bệnh viện Bệnh Nhiệt đới Trung ương",
    registration_ref: str = "KT-2021-000123",
) -> rpb.DeathRecord:
    return rpb.DeathRecord(
        death_date=date(death_date),
        cause=cause,
        place=place,
        cause_detail="COVID-19, suy hô hấp",
        registration_ref=registration_ref,
    )


def death_request(
    citizen_id: str, death: rpb.DeathRecord | None = None, request_id: str | None = None
) -> pb.RegisterDeathRequest:
    return pb.RegisterDeathRequest(
        request_id=request_id or new_request_id(),
        citizen_id=citizen_id,
        death=death if death is not None else death_record(),
    )


# --- errors --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RichError:
    """A failed call's status as a partner agency sees it (AIP-193 details decoded)."""

    code: grpc.StatusCode
    message: str
    reason: str
    domain: str
    # (field, reason) of every google.rpc.BadRequest field violation, in order.
    violations: tuple[tuple[str, str], ...]
    descriptions: tuple[str, ...]

    @property
    def text(self) -> str:
        """Every human-readable string the caller receives."""
        return "\n".join((self.message, self.reason, *self.descriptions))


def rich_error(error: grpc.aio.AioRpcError) -> RichError:
    status = rpc_status.from_call(error)
    reason = domain = ""
    violations: list[tuple[str, str]] = []
    descriptions: list[str] = []
    if status is not None:
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason, domain = info.reason, info.domain
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                for v in bad.field_violations:
                    violations.append((v.field, v.reason))
                    descriptions.append(v.description)
    return RichError(
        code=error.code(),
        message=error.details() or "",
        reason=reason,
        domain=domain,
        violations=tuple(violations),
        descriptions=tuple(descriptions),
    )


async def expect_error(call: Awaitable[object], code: grpc.StatusCode) -> RichError:
    """Awaits ``call``, which must fail with ``code``; returns the decoded status."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    error = rich_error(info.value)
    assert error.code == code, error
    return error


# --- callers -------------------------------------------------------------------------------


class _BearerToken(grpc.aio.UnaryUnaryClientInterceptor):
    """Adds ``authorization: Bearer <token>`` to every call, keeping the caller's metadata."""

    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        metadata = [*(client_call_details.metadata or ()), self._header]
        details = client_call_details._replace(metadata=metadata)  # type: ignore[attr-defined]
        return await continuation(details, request)


class RegistryClients:
    """Stubs of the server under test, one channel per caller (token in every call)."""

    def __init__(self, target: str, issuer: TokenIssuer) -> None:
        self.target = target
        self.issuer = issuer
        self._channels: dict[object, grpc.aio.Channel] = {}

    def _channel(self, key: object, token: str | None) -> grpc.aio.Channel:
        if key not in self._channels:
            interceptors = [_BearerToken(token)] if token is not None else None
            self._channels[key] = grpc.aio.insecure_channel(self.target, interceptors=interceptors)
        return self._channels[key]

    def stub(self, identity: Identity) -> RegistryServiceAsyncStub:
        token = self.issuer.issue(identity)
        return pb_grpc.RegistryServiceStub(self._channel(identity, token))

    def with_token(self, token: str) -> RegistryServiceAsyncStub:
        return pb_grpc.RegistryServiceStub(self._channel(("token", token), token))

    def anonymous(self) -> RegistryServiceAsyncStub:
        return pb_grpc.RegistryServiceStub(self.channel)

    @property
    def channel(self) -> grpc.aio.Channel:
        """A channel that sends no token (health, reflection, refused calls)."""
        return self._channel("anonymous", None)

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()


# --- the database, for assertions ----------------------------------------------------------


class RegistryDatabase:
    """Direct SQL on the registry database: what the service wrote, row by row."""

    def __init__(self, conn: psycopg.AsyncConnection[DictRow]) -> None:
        self.conn = conn

    @classmethod
    async def connect(cls, url: str) -> RegistryDatabase:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True, row_factory=dict_row)
        return cls(conn)

    async def close(self) -> None:
        await self.conn.close()

    async def rows(self, query: str, *params: Any) -> list[dict[str, Any]]:
        cursor = await self.conn.execute(query.encode(), params)
        return list(await cursor.fetchall())

    async def scalar(self, query: str, *params: Any) -> Any:
        rows = await self.rows(query, *params)
        assert len(rows) == 1, rows
        return next(iter(rows[0].values()))

    async def count(self, table: str, citizen_id: str) -> int:
        """Rows of ``table`` about one resident (tables keyed by ``citizen_id``)."""
        assert table in {
            "residents",
            "residence_history",
            "civil_status_history",
            "civil_status_corrections",
        }
        value: int = await self.scalar(
            f"SELECT count(*) FROM {table} WHERE citizen_id = %s",  # noqa: S608 - fixed names
            citizen_id,
        )
        return value

    async def publish_pending_outbox(self) -> None:
        """Marks every pending outbox row published. A test that relays the outbox calls it
        first, so that its relay starts workflows for its own rows only: the rows other tests
        left (thousands after the imports) would each start a workflow on its queue."""
        await self.conn.execute(
            b"UPDATE outbox SET published_at = now() WHERE published_at IS NULL"
        )

    async def outbox(self, citizen_id: str, event_type: str | None = None) -> list[dict[str, Any]]:
        rows = await self.rows(
            "SELECT event_id, event_type, aggregate_id, payload, published_at FROM outbox"
            " WHERE aggregate_id = %s"
            " ORDER BY created_at, event_type",
            citizen_id,
        )
        return [row for row in rows if event_type is None or row["event_type"] == event_type]

    async def audit(self, action: str, resource_id: str | None = None) -> list[dict[str, Any]]:
        """Audit rows of ``action`` naming ``resource_id`` (all of the action's if None)."""
        if resource_id is None:
            return await self.rows("SELECT * FROM audit_log WHERE action = %s ORDER BY id", action)
        return await self.rows(
            "SELECT * FROM audit_log WHERE action = %s AND %s = ANY(resource_ids) ORDER BY id",
            action,
            resource_id,
        )

    async def request_logged(self, request_id: str) -> int:
        value: int = await self.scalar(
            "SELECT count(*) FROM request_log WHERE request_id = %s", request_id
        )
        return value
