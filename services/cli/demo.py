"""``dancu demo``: the seed article's story, played against a running suite.

Partner agencies and officers call the public gRPC APIs with their development tokens, as they
would in production:

1. Đồng Xuân (now part of Phường Hoàn Kiếm, ward 00070): the ward police import the health
   agency's daily list (25 F0, 127 F1), record contacts so that F2s derive, and a resident with
   a temporary residence in another ward alerts both wards.
2. Hồ Chí Minh City: checkpoints scan 135 residents flagged F0; the city police verify each
   warning (33 already recovered, 102 F0 of whom 26 in centralised quarantine).
3. A COVID-19 death: the hospital's report starts the death workflow (as
   ``dancu report-death`` does), which records it in case status and civil status, finds the
   survivors and opens the survivor-benefit case; the ward is alerted; an officer other than
   the opener approves the case and it is paid.

Every mutation carries a request id made of its step and a number (``demo-<step>-<n>``), and
every resident is chosen in the registry's own search order, so a second run replays the first
one's answers and changes nothing. The figures of the report are read back from the services'
queries (CountCases, ListCases, ListAlerts, SummarizeAlerts, GetResident, GetCaseStatus,
GetBenefitCase); the script counts nothing itself.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import grpc
from dancu.alerts.v1 import alert_pb2 as apb
from dancu.alerts.v1 import alerts_service_pb2 as alerts_pb
from dancu.alerts.v1 import alerts_service_pb2_grpc as alerts_grpc
from dancu.case_status.v1 import case_pb2 as cpb
from dancu.case_status.v1 import case_status_service_pb2 as case_pb
from dancu.case_status.v1 import case_status_service_pb2_grpc as case_grpc
from dancu.registry.v1 import registry_service_pb2 as reg_pb
from dancu.registry.v1 import registry_service_pb2_grpc as reg_grpc
from dancu.registry.v1 import resident_pb2 as rpb
from dancu.welfare.v1 import welfare_pb2 as wpb
from dancu.welfare.v1 import welfare_service_pb2 as welfare_pb
from dancu.welfare.v1 import welfare_service_pb2_grpc as welfare_grpc
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from google.type.date_pb2 import Date
from grpc_status import rpc_status
from rich.console import Console
from rich.table import Table

from services.cli import devenv
from services.cli.welfare import history_table
from services.kit.channels import open_channel
from services.kit.temporal import DEFAULT_NAMESPACE, DEFAULT_TASK_QUEUE, connect
from services.kit.wards import OfficialWards, province_ward_codes
from workflows.death.models import DeathRecorded, DeathReport
from workflows.death.models import workflow_id as death_workflow_id
from workflows.death.starter import progress as death_progress
from workflows.death.starter import report_death

if TYPE_CHECKING:
    from dancu.alerts.v1.alerts_service_pb2_grpc import AlertsServiceAsyncStub
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub
    from dancu.welfare.v1.welfare_service_pb2_grpc import WelfareServiceAsyncStub

T = TypeVar("T")
X = TypeVar("X")
VIETNAM = dt.timezone(dt.timedelta(hours=7))

# The article's figures.
DONG_XUAN_WARD = "00070"
DONG_XUAN_F0 = 25
DONG_XUAN_F1 = 127
HCMC_WARNINGS = 135
HCMC_RECOVERED = 33
HCMC_CENTRALISED = 26
HCMC_ACTIVE = HCMC_WARNINGS - HCMC_RECOVERED
HCMC_HOME = HCMC_ACTIVE - HCMC_CENTRALISED
# Not a figure of the article: how many contacts of the F1s the ward police trace.
F2_CONTACTS = 20

LIST_ID_PREFIX = "yte-phuong-dong-xuan-"
HCMC = devenv.HO_CHI_MINH_CITY
HCMC_AGENCY = "cong-an-tp-ho-chi-minh"
# (code, name, ward): checkpoints on the roads of the city centre.
CHECKPOINTS = (
    ("HCM-SG-01", "Chốt Tôn Đức Thắng", "26740"),
    ("HCM-BT-01", "Chốt chợ Bến Thành", "26743"),
    ("HCM-TD-01", "Chốt cầu Kiệu", "26737"),
)
FUNERAL_PROGRAM = "COVID_FUNERAL_SUPPORT"
HOSPITAL = "Bệnh viện Bệnh Nhiệt đới Thành phố Hồ Chí Minh"

# Alerts reach the wards through the worker's propagation workflow, a second or so after the
# event; these bound the waits so a suite without a worker fails the demo instead of hanging.
DEFAULT_ALERT_WAIT_SECONDS = 60.0
DEFAULT_PROPAGATION_WAIT_SECONDS = 180.0
POLL_SECONDS = 0.5
# A replica catches its watchlist up every 500 ms by default: wait a little longer before the
# checkpoints scan.
WATCHLIST_SETTLE_SECONDS = 1.2
CONCURRENCY = 8
# As `dancu start` runs the Temporal dev server.
DEFAULT_TEMPORAL_PORT = 7233
RETRIES = 10
SEARCH_PAGE = 200
LIST_PAGE = 500


class DemoFailed(Exception):
    """The suite refused a step, or did not do something in time: the story cannot go on."""


@dataclass(frozen=True)
class Addresses:
    registry: str
    case_status: str
    alerts: str
    welfare: str
    temporal_ui: str


def _port_address(variable: str, default: int) -> str:
    return f"127.0.0.1:{int(os.environ.get(variable, default))}"


def default_addresses() -> Addresses:
    """Where ``dancu start`` serves (the same ``DANCU_*_PORT`` settings)."""
    from services.cli import main

    return Addresses(
        registry=_port_address("DANCU_REGISTRY_PORT", main.DEFAULT_REGISTRY_PORT),
        case_status=_port_address("DANCU_CASE_STATUS_PORT", main.DEFAULT_CASE_STATUS_PORT),
        alerts=_port_address("DANCU_ALERTS_PORT", main.DEFAULT_ALERTS_PORT),
        welfare=_port_address("DANCU_WELFARE_PORT", main.DEFAULT_WELFARE_PORT),
        temporal_ui="http://"
        + _port_address("DANCU_TEMPORAL_UI_PORT", main.DEFAULT_TEMPORAL_UI_PORT),
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    addresses = default_addresses()
    parser.add_argument("--registry", default=addresses.registry, help="registry gRPC address")
    parser.add_argument("--case-status", default=addresses.case_status)
    parser.add_argument("--alerts", default=addresses.alerts)
    parser.add_argument("--welfare", default=addresses.welfare)
    parser.add_argument("--temporal-ui", default=addresses.temporal_ui)
    parser.add_argument(
        "--temporal",
        default=os.environ.get("DANCU_TEMPORAL_ADDRESS")
        or _port_address("DANCU_TEMPORAL_PORT", DEFAULT_TEMPORAL_PORT),
        help="the Temporal frontend the death is reported to",
    )
    parser.add_argument(
        "--alert-wait",
        type=float,
        default=DEFAULT_ALERT_WAIT_SECONDS,
        help="seconds to wait for an alert to reach a ward",
    )
    parser.add_argument(
        "--propagation-wait",
        type=float,
        default=DEFAULT_PROPAGATION_WAIT_SECONDS,
        help="seconds to wait for the 135 HCMC cases to reach the checkpoints' watchlist",
    )


@dataclass(frozen=True)
class Days:
    """The story's dates, relative to the day of the list (the first run's day): checkpoints
    take scans of the last 7 days only, and quarantine follow-up runs on real time, so the
    story is replayed in the present rather than in September 2021."""

    list_day: dt.date

    def at(self, days_before: int, hour: int = 8, minute: int = 0) -> dt.datetime:
        day = self.list_day - dt.timedelta(days=days_before)
        return dt.datetime.combine(day, dt.time(hour, minute), VIETNAM)

    @property
    def list_id(self) -> str:
        return f"{LIST_ID_PREFIX}{self.list_day.isoformat()}"

    @property
    def list_day_end(self) -> dt.datetime:
        return dt.datetime.combine(self.list_day, dt.time(23, 59, 59), VIETNAM)

    # Hồ Chí Minh City: confirmed ten days before, 33 recovered two days before the list's day.
    @property
    def hcmc_f0(self) -> dt.datetime:
        return self.at(10)

    @property
    def hcmc_recovered(self) -> dt.datetime:
        return self.at(2)

    # The death: confirmed nine days before, died three days before.
    @property
    def death_f0(self) -> dt.datetime:
        return self.at(9)

    @property
    def death(self) -> dt.datetime:
        return self.at(3, 3, 10)


async def list_day(cases: CaseStatusServiceAsyncStub, citizen_id: str) -> dt.date:
    """The day of the list an earlier run imported, from the first F0's timeline in case
    status; today (Vietnam) when no run has imported it yet."""
    try:
        reply = await cases.GetCaseStatus(case_pb.GetCaseStatusRequest(citizen_id=citizen_id))
    except grpc.aio.AioRpcError as error:
        if error.code() != grpc.StatusCode.NOT_FOUND:
            raise
        reply = case_pb.GetCaseStatusResponse()
    for event in reply.timeline:
        if event.source.list_id.startswith(LIST_ID_PREFIX):
            return dt.date.fromisoformat(event.source.list_id.removeprefix(LIST_ID_PREFIX))
    return dt.datetime.now(VIETNAM).date()


# ---------------------------------------------------------------------------------------------
# The report


@dataclass(frozen=True)
class Figure:
    label: str
    value: int | str
    # The RPC (and filter) the value came from.
    source: str
    # What the story expects: the article's figure where it gives one, else what must hold
    # (every row of the list applied, "yes" for a ward alerted); None for figures it leaves
    # open (how many F2s, the amount paid).
    expected: int | str | None = None

    @property
    def agrees(self) -> bool | None:
        if self.expected is None:
            return None
        return self.value == self.expected


@dataclass
class Section:
    title: str
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(
        self, label: str, value: int | str, source: str, expected: int | str | None = None
    ) -> None:
        self.figures.append(Figure(label, value, source, expected))


def figures_table(section: Section) -> Table:
    table = Table(title=section.title, title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("expected", justify="right")
    table.add_column("", justify="center")
    table.add_column("from (query)")
    for figure in section.figures:
        agrees = figure.agrees
        mark = "" if agrees is None else ("[green]✓[/green]" if agrees else "[red]✗[/red]")
        value = f"{figure.value:,}" if isinstance(figure.value, int) else figure.value
        expected = (
            ""
            if figure.expected is None
            else (f"{figure.expected:,}" if isinstance(figure.expected, int) else figure.expected)
        )
        table.add_row(figure.label, value, expected, mark, figure.source)
    return table


def print_section(out: Console, section: Section, started: float) -> None:
    out.print(figures_table(section))
    for table in section.tables:
        out.print(table)
    for note in section.notes:
        out.print(note, highlight=False)
    out.print(f"[dim]({time.monotonic() - started:.1f} s)[/dim]\n")


# ---------------------------------------------------------------------------------------------
# Calling the suite


@dataclass
class Stubs:
    """One stub per service and persona; every call carries that persona's token."""

    addresses: Addresses
    tokens: dict[str, str]
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    def _channel(self, address: str, persona: str) -> grpc.aio.Channel:
        token = self.tokens[persona]
        channel = open_channel(address, token=lambda: token, deadline_seconds=30.0)
        self.channels.append(channel)
        return channel

    def registry(self, persona: str) -> RegistryServiceAsyncStub:
        stub: RegistryServiceAsyncStub = reg_grpc.RegistryServiceStub(
            self._channel(self.addresses.registry, persona)
        )
        return stub

    def case_status(self, persona: str) -> CaseStatusServiceAsyncStub:
        stub: CaseStatusServiceAsyncStub = case_grpc.CaseStatusServiceStub(
            self._channel(self.addresses.case_status, persona)
        )
        return stub

    def alerts(self, persona: str) -> AlertsServiceAsyncStub:
        stub: AlertsServiceAsyncStub = alerts_grpc.AlertsServiceStub(
            self._channel(self.addresses.alerts, persona)
        )
        return stub

    def welfare(self, persona: str) -> WelfareServiceAsyncStub:
        stub: WelfareServiceAsyncStub = welfare_grpc.WelfareServiceStub(
            self._channel(self.addresses.welfare, persona)
        )
        return stub

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()


PERSONAS_USED = (
    "ward-police-hoan-kiem",
    "health-agency",
    "police-ho-chi-minh",
    "checkpoint-ho-chi-minh",
    "health-agency-ho-chi-minh",
    "civil-status-ho-chi-minh",
    "welfare-officer",
    "welfare-checker",
)


def read_tokens(env: devenv.DevEnv) -> dict[str, str]:
    tokens = {}
    for persona in PERSONAS_USED:
        path = env.tokens_dir / f"{persona}.jwt"
        try:
            tokens[persona] = path.read_text().strip()
        except OSError as error:
            raise DemoFailed(
                f"cannot read the token {path}: {error.strerror} (start the suite with "
                "`dancu start --demo`, which writes the persona tokens)"
            ) from None
    return tokens


async def _each(what: str, call: Callable[[int, X], Awaitable[T]], items: Sequence[X]) -> list[T]:
    """``call(n, item)`` for every item, a few at a time; results in the items' order."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(n: int, item: X) -> T:
        async with gate:
            for attempt in range(RETRIES):
                try:
                    return await call(n, item)
                except grpc.aio.AioRpcError as error:
                    # Two calls about one household can collide; a failed call leaves no claim
                    # on its request id, so the same request may be sent again.
                    if error.code() != grpc.StatusCode.ABORTED or attempt == RETRIES - 1:
                        raise DemoFailed(f"{what} {n}: {_refusal(error)}") from None
                    await asyncio.sleep(0.05 * (attempt + 1) + random.random() * 0.1)
            raise AssertionError("unreachable")

    return list(await asyncio.gather(*(one(n, item) for n, item in enumerate(items))))


def _date(day: dt.date) -> Date:
    return Date(year=day.year, month=day.month, day=day.day)


def _timestamp(moment: dt.datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _day_of(date: Date) -> dt.date | None:
    return dt.date(date.year, date.month, date.day) if date.year else None


def _ward_name(code: str) -> str:
    info = OfficialWards().info(code)
    return f"{info.name} ({code})" if info else code


def has_active_temporary_residence(resident: rpb.Resident, today: dt.date) -> bool:
    if not resident.HasField("temporary_residence"):
        return False
    temporary = resident.temporary_residence
    if temporary.address.ward_code in ("", resident.permanent_residence.ward_code):
        return False
    start = _day_of(temporary.valid_from)
    end = _day_of(temporary.valid_to)
    return (start is None or start <= today) and (end is None or today <= end)


async def ward_residents(registry: RegistryServiceAsyncStub, ward: str) -> list[rpb.Resident]:
    """The residents whose permanent residence is the ward, in the registry's search order
    (diacritic-free name, then citizen id)."""
    found: list[rpb.Resident] = []
    token = ""
    while True:
        page = await registry.SearchResidents(
            reg_pb.SearchResidentsRequest(ward_code=ward, page_size=SEARCH_PAGE, page_token=token)
        )
        found.extend(r for r in page.residents if r.permanent_residence.ward_code == ward)
        token = page.next_page_token
        if not token:
            return found


async def all_alerts(
    alerts: AlertsServiceAsyncStub, ward: str, kind: apb.AlertKind.ValueType
) -> list[apb.Alert]:
    found: list[apb.Alert] = []
    token = ""
    while True:
        page = await alerts.ListAlerts(
            alerts_pb.ListAlertsRequest(
                ward_code=ward, kind=kind, page_size=LIST_PAGE, page_token=token
            )
        )
        found.extend(page.alerts)
        token = page.next_page_token
        if not token:
            return found


async def _until(seconds: float, probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    deadline = time.monotonic() + seconds
    while True:
        found = await probe()
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            raise DemoFailed(
                f"{what} did not happen within {seconds:.0f} s "
                "(is the worker running? `dancu start` runs it)"
            )
        await asyncio.sleep(POLL_SECONDS)


# ---------------------------------------------------------------------------------------------
# Part 1: Đồng Xuân


@dataclass(frozen=True)
class DongXuanList:
    f0: list[rpb.Resident]
    f1: list[rpb.Resident]
    f2: list[rpb.Resident]
    # The F0 with an active temporary residence in another ward.
    mover: rpb.Resident


def choose_dong_xuan(residents: Sequence[rpb.Resident], today: dt.date) -> DongXuanList:
    """The health agency's list, chosen in the registry's order: the first resident with an
    active temporary residence elsewhere and the next 24 residents are F0; their household
    members (contacts at home, F1 in any case) head the F1 list, the next residents fill it up
    to 127; the residents after them are the F1s' contacts (F2)."""
    movers = [r for r in residents if has_active_temporary_residence(r, today)]
    if not movers:
        raise DemoFailed(
            f"no resident of ward {DONG_XUAN_WARD} has an active temporary residence elsewhere "
            "(load a larger demo population)"
        )
    households: dict[str, list[rpb.Resident]] = {}
    for resident in residents:
        households.setdefault(resident.household_id, []).append(resident)
    f0: list[rpb.Resident] = []
    at_home: list[rpb.Resident] = []
    chosen: set[str] = set()
    for candidate in [movers[0], *residents]:
        if len(f0) == DONG_XUAN_F0:
            break
        if candidate.citizen_id in chosen:
            continue
        members = [
            m
            for m in households[candidate.household_id]
            if m.citizen_id not in chosen and m.citizen_id != candidate.citizen_id
        ]
        if len(at_home) + len(members) > DONG_XUAN_F1:
            continue
        f0.append(candidate)
        chosen.add(candidate.citizen_id)
        # A member already on the list as F0 stays F0.
        at_home = [m for m in at_home if m.citizen_id != candidate.citizen_id]
        at_home.extend(members)
        chosen.update(m.citizen_id for m in members)
    rest = [r for r in residents if r.citizen_id not in chosen]
    f1 = at_home + rest[: DONG_XUAN_F1 - len(at_home)]
    f2 = rest[DONG_XUAN_F1 - len(at_home) :][:F2_CONTACTS]
    if len(f0) < DONG_XUAN_F0 or len(f1) < DONG_XUAN_F1 or not f2:
        raise DemoFailed(
            f"ward {DONG_XUAN_WARD} has {len(residents)} residents: too few for "
            f"{DONG_XUAN_F0} F0, {DONG_XUAN_F1} F1 and their contacts (load a larger population)"
        )
    return DongXuanList(f0, f1, f2, movers[0])


def import_row(
    number: int,
    resident: rpb.Resident,
    classification: cpb.Classification.ValueType,
    day: dt.date,
) -> case_pb.ImportRow:
    row = case_pb.ImportRow(
        row_number=number,
        citizen_id=resident.citizen_id,
        full_name=resident.full_name,
        ward_code=resident.permanent_residence.ward_code,
        street=resident.permanent_residence.street,
        classification=classification,
        effective_date=_date(day),
    )
    row.birth_date.CopyFrom(resident.birth_date)
    if classification == cpb.CLASSIFICATION_F0:
        row.condition = cpb.HEALTH_CONDITION_MILD
        row.care.CopyFrom(
            cpb.Care(setting=cpb.CARE_SETTING_HOME_ISOLATION, ward_code=DONG_XUAN_WARD)
        )
    return row


async def _import_messages(
    header: case_pb.ImportHeader, rows: list[case_pb.ImportRow]
) -> AsyncIterator[case_pb.ImportCaseListRequest]:
    yield case_pb.ImportCaseListRequest(header=header)
    yield case_pb.ImportCaseListRequest(rows=case_pb.ImportRows(rows=rows))


def _count(
    counts: Iterable[case_pb.CaseCount], ward: str, level: cpb.Classification.ValueType
) -> int:
    return sum(c.count for c in counts if c.ward_code == ward and c.classification == level)


async def part_one(
    stubs: Stubs, tokens: dict[str, str], env: devenv.DevEnv, args: argparse.Namespace
) -> tuple[Section, Days]:
    police = "ward-police-hoan-kiem"
    registry = stubs.registry(police)
    cases = stubs.case_status(police)
    residents = await ward_residents(registry, DONG_XUAN_WARD)
    chosen = choose_dong_xuan(residents, dt.datetime.now(VIETNAM).date())
    days = Days(await list_day(cases, chosen.mover.citizen_id))
    section = Section(
        f"1. Đồng Xuân, now {_ward_name(DONG_XUAN_WARD)}: the health agency's list of "
        f"{days.list_day:%d/%m/%Y}, imported by the ward police"
    )
    day = days.list_day
    rows = [import_row(n, r, cpb.CLASSIFICATION_F0, day) for n, r in enumerate(chosen.f0, start=1)]
    rows += [
        import_row(n, r, cpb.CLASSIFICATION_F1, day)
        for n, r in enumerate(chosen.f1, start=len(rows) + 1)
    ]
    header = case_pb.ImportHeader(
        request_id="demo-import-1",
        list_id=days.list_id,
        list_date=_date(day),
        ward_code=DONG_XUAN_WARD,
    )
    response = await cases.ImportCaseList(
        _import_messages(header, rows),
        metadata=[("authorization", f"Bearer {tokens[police]}")],
        timeout=120.0,
    )
    summary = response.summary
    section.add("rows on the list", summary.rows, "ImportCaseList summary", len(rows))
    section.add(
        "rows applied or already so",
        summary.applied + summary.unchanged,
        "ImportCaseList summary (applied + unchanged)",
        len(rows),
    )
    section.add(
        "rows needing review or rejected",
        summary.needs_review + summary.rejected,
        "ImportCaseList summary",
        0,
    )

    # The F1s' contacts outside the home, traced by the ward police: each F2 met one F1.
    links = [
        cpb.ExposureLink(
            contact_citizen_id=contact.citizen_id,
            source_citizen_id=chosen.f1[-1 - n].citizen_id,
            contact_date=_date(day),
            setting=cpb.CONTACT_SETTING_WORKPLACE,
            note="truy vết F1",
        )
        for n, contact in enumerate(chosen.f2)
    ]
    await cases.RecordContacts(
        case_pb.RecordContactsRequest(request_id="demo-contacts-1", links=links)
    )

    # As of the list's day, like the article's "by 18/9": on a later run the F1s' quarantine
    # may have ended, and the worker's follow-up clears them.
    as_of = min(days.list_day_end, dt.datetime.now(VIETNAM))
    counts = (
        await cases.CountCases(
            case_pb.CountCasesRequest(
                group_by=case_pb.COUNT_GROUPING_WARD,
                province_code="01",
                as_of_time=_timestamp(as_of),
            )
        )
    ).counts
    source = (
        f"CountCases (by ward, province 01, as of {days.list_day:%d/%m/%Y}): ward {DONG_XUAN_WARD}"
    )
    section.add("F0 recorded", _count(counts, DONG_XUAN_WARD, cpb.CLASSIFICATION_F0), source,
                DONG_XUAN_F0)  # fmt: skip
    section.add("F1 recorded", _count(counts, DONG_XUAN_WARD, cpb.CLASSIFICATION_F1), source,
                DONG_XUAN_F1)  # fmt: skip
    section.add("F2 derived from contacts",
                _count(counts, DONG_XUAN_WARD, cpb.CLASSIFICATION_F2), source)  # fmt: skip

    # The resident with a temporary residence elsewhere: both wards see the case and get the
    # alert.
    mover = chosen.mover
    temp_ward = mover.temporary_residence.address.ward_code
    temp_persona = f"ward-police-{temp_ward}"
    tokens[temp_persona] = env.issuer().issue(devenv.ward_police(temp_ward), 3600)
    temp_cases = stubs.case_status(temp_persona)
    listed: list[cpb.CaseStatus] = []
    page_token = ""
    while True:
        page = await temp_cases.ListCases(
            case_pb.ListCasesRequest(
                ward_code=temp_ward,
                ward_role=case_pb.WARD_ROLE_TEMPORARY_RESIDENCE,
                classification=cpb.CLASSIFICATION_F0,
                page_size=LIST_PAGE,
                page_token=page_token,
            )
        )
        listed.extend(page.cases)
        page_token = page.next_page_token
        if not page_token:
            break
    section.add(
        f"the F0 {mover.citizen_id} listed in {temp_ward} as a temporary resident",
        "yes" if any(c.citizen_id == mover.citizen_id for c in listed) else "no",
        f"ListCases (ward {temp_ward}, temporary residence, F0), ward police of {temp_ward}",
        "yes",
    )
    wards = [(DONG_XUAN_WARD, police), (temp_ward, temp_persona)]
    alert_table = Table(
        title=f"alerts about the F0 {mover.citizen_id} ({mover.full_name}), "
        "one per ward (ListAlerts, each ward's police)",
        title_justify="left",
    )
    for column in ("ward", "why it reached the ward", "kind", "level", "alert id"):
        alert_table.add_column(column)
    for ward, persona in wards:
        alert = await _until(
            args.alert_wait,
            _mover_alert(stubs.alerts(persona), ward, mover.citizen_id),
            f"the alert of ward {ward} about {mover.citizen_id}",
        )
        role = apb.WardRole.Name(alert.ward_role).removeprefix("WARD_ROLE_")
        section.add(
            f"ward {ward} alerted ({role.lower().replace('_', ' ')})",
            "yes",
            f"ListAlerts (ward {ward}, status change), ward police of {ward}",
            "yes",
        )
        alert_table.add_row(
            _ward_name(ward),
            role,
            apb.AlertKind.Name(alert.kind).removeprefix("ALERT_KIND_"),
            apb.Classification.Name(alert.classification).removeprefix("CLASSIFICATION_"),
            alert.alert_id,
        )
    section.tables.append(alert_table)
    section.notes.append(
        f"The ward police of {temp_ward} use a development token issued for that ward "
        f"(as `dancu token --role ward_police --ward {temp_ward}` would)."
    )
    return section, days


def _mover_alert(
    alerts: AlertsServiceAsyncStub, ward: str, citizen_id: str
) -> Callable[[], Awaitable[apb.Alert | None]]:
    async def probe() -> apb.Alert | None:
        for alert in await all_alerts(alerts, ward, apb.ALERT_KIND_STATUS_CHANGE):
            if alert.citizen_id == citizen_id and alert.classification == apb.CLASSIFICATION_F0:
                return alert
        return None

    return probe


# ---------------------------------------------------------------------------------------------
# Part 2: Hồ Chí Minh City's checkpoints


@dataclass(frozen=True)
class CityResidents:
    flagged: list[rpb.Resident]
    # A household head with a spouse and a child, in a ward none of the flagged lives in.
    deceased: rpb.Resident
    spouse: rpb.Resident


def _city_wards() -> list[str]:
    """The checkpoints' wards first, then the rest of the city's in code order."""
    first = [ward for _, _, ward in CHECKPOINTS]
    return first + [w for w in province_ward_codes(HCMC) if w not in first]


async def choose_city_residents(registry: RegistryServiceAsyncStub) -> CityResidents:
    flagged: list[rpb.Resident] = []
    for ward in _city_wards():
        residents = await ward_residents(registry, ward)
        households: dict[str, list[rpb.Resident]] = {}
        for resident in residents:
            households.setdefault(resident.household_id, []).append(resident)
        if len(flagged) < HCMC_WARNINGS:
            # Whole households: the virus spread at home, and a household confirmed together
            # leaves no member to derive a contact level for.
            for members in households.values():
                if len(flagged) + len(members) <= HCMC_WARNINGS:
                    flagged.extend(members)
            continue
        for resident in residents:
            if resident.relationship_to_head != rpb.RELATIONSHIP_HEAD:
                continue
            members = households[resident.household_id]
            spouses = [m for m in members if m.relationship_to_head == rpb.RELATIONSHIP_SPOUSE]
            children = [m for m in members if m.relationship_to_head == rpb.RELATIONSHIP_CHILD]
            if spouses and children:
                return CityResidents(flagged, resident, spouses[0])
    raise DemoFailed(
        f"Hồ Chí Minh City has too few residents for {HCMC_WARNINGS} flagged residents and a "
        "family (load a larger demo population)"
    )


def _care_of(n: int, ward: str) -> cpb.Care:
    """The first 33 recover later; of the others, 26 are in centralised quarantine."""
    if HCMC_RECOVERED <= n < HCMC_RECOVERED + HCMC_CENTRALISED:
        return cpb.Care(
            setting=cpb.CARE_SETTING_CENTRALISED_QUARANTINE,
            ward_code=ward,
            facility="Khu cách ly tập trung",
        )
    return cpb.Care(setting=cpb.CARE_SETTING_HOME_ISOLATION, ward_code=ward)


def _f0_event(n: int, resident: rpb.Resident, days: Days) -> cpb.StatusEvent:
    return cpb.StatusEvent(
        citizen_id=resident.citizen_id,
        effective_time=_timestamp(days.hcmc_f0),
        classification=cpb.CLASSIFICATION_F0,
        care=_care_of(n, resident.permanent_residence.ward_code),
        condition=cpb.HEALTH_CONDITION_MILD,
        source=cpb.Source(agency="hcdc-ho-chi-minh", list_id=f"hcdc-{days.hcmc_f0:%Y-%m-%d}"),
        # A member of an earlier case's household already has a contact event of the same
        # day: the confirmation is then dated alongside it, which needs a reason.
        reason="ca F0 trong danh sách của HCDC",
    )


async def part_two(
    stubs: Stubs, args: argparse.Namespace, days: Days
) -> tuple[Section, CityResidents]:
    section = Section(
        "2. Hồ Chí Minh City: F0 warnings at the checkpoints, verified by the city police"
    )
    police_registry = stubs.registry("police-ho-chi-minh")
    police_alerts = stubs.alerts("police-ho-chi-minh")
    police_cases = stubs.case_status("police-ho-chi-minh")
    health = stubs.case_status("health-agency-ho-chi-minh")
    checkpoint = stubs.alerts("checkpoint-ho-chi-minh")
    city = await choose_city_residents(police_registry)
    flagged = city.flagged

    for n, (code, name, ward) in enumerate(CHECKPOINTS, start=1):
        try:
            await police_alerts.RegisterCheckpoint(
                alerts_pb.RegisterCheckpointRequest(
                    request_id=f"demo-checkpoint-{n}",
                    checkpoint=apb.Checkpoint(
                        code=code, name=name, ward_code=ward, operating_agency=HCMC_AGENCY
                    ),
                )
            )
        except grpc.aio.AioRpcError as error:
            # Registered before under another request id: the checkpoint is there.
            if error.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise

    # The health agency records the 135 cases; the workflows bring them to the watchlist.
    number = {r.citizen_id: n for n, r in enumerate(flagged)}
    households: dict[str, list[rpb.Resident]] = {}
    for resident in flagged:
        households.setdefault(resident.household_id, []).append(resident)

    async def record_household(_: int, members: list[rpb.Resident]) -> None:
        # One member after the other: each confirmation recomputes the household's contacts,
        # and two at once collide. A retry of the household replays the members done.
        for resident in members:
            n = number[resident.citizen_id]
            await health.RecordStatus(
                case_pb.RecordStatusRequest(
                    request_id=f"demo-hcmc-f0-{n}", event=_f0_event(n, resident, days)
                )
            )

    await _each("RecordStatus F0 of household", record_household, list(households.values()))
    wards = sorted({r.permanent_residence.ward_code for r in flagged})
    wanted = {r.citizen_id for r in flagged}

    async def propagated() -> bool | None:
        seen: set[str] = set()
        for ward in wards:
            for alert in await all_alerts(police_alerts, ward, apb.ALERT_KIND_STATUS_CHANGE):
                if alert.classification == apb.CLASSIFICATION_F0:
                    seen.add(alert.citizen_id)
        return True if wanted <= seen else None

    await _until(args.propagation_wait, propagated, f"the alerts of the {len(flagged)} F0 cases")
    await asyncio.sleep(WATCHLIST_SETTLE_SECONDS)

    # Each passes one of the checkpoints and shows the VNeID QR code.
    async def scan(n: int, resident: rpb.Resident) -> alerts_pb.ScanResponse:
        return await checkpoint.Scan(
            alerts_pb.ScanRequest(
                request_id=f"demo-hcmc-scan-{n}",
                checkpoint_code=CHECKPOINTS[n % len(CHECKPOINTS)][0],
                qr_payload=f"DC1:{resident.citizen_id}",
            )
        )

    answers = await _each("Scan", scan, flagged)
    warned = sum(1 for a in answers if a.verdict == apb.VERDICT_WARN)

    # 33 of them had recovered; the health agency's record of it arrives after the scans.
    async def record_recovery(n: int, resident: rpb.Resident) -> object:
        return await health.RecordStatus(
            case_pb.RecordStatusRequest(
                request_id=f"demo-hcmc-recovered-{n}",
                event=cpb.StatusEvent(
                    citizen_id=resident.citizen_id,
                    effective_time=_timestamp(days.hcmc_recovered),
                    outcome=cpb.OUTCOME_RECOVERED,
                    source=cpb.Source(
                        agency="hcdc-ho-chi-minh", list_id=f"hcdc-{days.hcmc_recovered:%Y-%m-%d}"
                    ),
                ),
            )
        )

    await _each("RecordStatus RECOVERED", record_recovery, flagged[:HCMC_RECOVERED])

    # The city police verify each warning against case status.
    warnings: list[apb.Alert] = []
    for _, _, ward in CHECKPOINTS:
        warnings.extend(
            a
            for a in await all_alerts(police_alerts, ward, apb.ALERT_KIND_CHECKPOINT_WARNING)
            if a.ward_role == apb.WARD_ROLE_CHECKPOINT and a.citizen_id in number
        )

    async def verify(_: int, alert: apb.Alert) -> None:
        status = (
            await police_cases.GetCaseStatus(
                case_pb.GetCaseStatusRequest(citizen_id=alert.citizen_id)
            )
        ).status
        request = alerts_pb.VerifyAlertRequest(
            request_id=f"demo-hcmc-verify-{number[alert.citizen_id]}", alert_id=alert.alert_id
        )
        if status.outcome == cpb.OUTCOME_RECOVERED:
            request.outcome = apb.VERIFICATION_OUTCOME_ALREADY_RECOVERED
        else:
            request.outcome = apb.VERIFICATION_OUTCOME_CONFIRMED_ACTIVE
            # The two enums are numbered alike.
            request.care_setting = apb.CareSetting.ValueType(status.care.setting)
        await police_alerts.VerifyAlert(request)

    await _each("VerifyAlert", verify, [a for a in warnings if a.state != apb.ALERT_STATE_VERIFIED])

    checkpoint_wards = [ward for _, _, ward in CHECKPOINTS]
    summary_request = alerts_pb.SummarizeAlertsRequest(
        ward_codes=checkpoint_wards,
        kind=apb.ALERT_KIND_CHECKPOINT_WARNING,
        ward_role=apb.WARD_ROLE_CHECKPOINT,
    )
    summaries = (await police_alerts.SummarizeAlerts(summary_request)).summaries
    total = summaries[0] if summaries else alerts_pb.AlertSummary()
    source = "SummarizeAlerts (checkpoint warnings, counted at the checkpoints' wards)"
    section.add("warnings raised at checkpoints", int(total.alerts), source, HCMC_WARNINGS)
    section.add("verified by police", int(total.verified), source, HCMC_WARNINGS)
    section.add("already recovered", int(total.already_recovered), source, HCMC_RECOVERED)
    section.add("F0 (confirmed active)", int(total.confirmed_active), source, HCMC_ACTIVE)
    section.add("  in centralised quarantine", int(total.centralised_quarantine), source,
                HCMC_CENTRALISED)  # fmt: skip
    section.add("  isolating at home", int(total.home_isolation), source, HCMC_HOME)
    section.notes.append(
        f"The checkpoints' Scan answers: {warned} WARN of {len(answers)} scans "
        "(a second run gets the first run's answers back)."
    )

    summary_request.group_by_ward = True
    by_ward = (await police_alerts.SummarizeAlerts(summary_request)).summaries
    table = Table(
        title="warnings by checkpoint ward (SummarizeAlerts, grouped by ward)",
        title_justify="left",
    )
    for column in ("ward", "warnings", "already recovered", "F0", "centralised", "home"):
        table.add_column(column, justify="right" if column != "ward" else "left")
    for row in by_ward:
        table.add_row(
            _ward_name(row.ward_code),
            *(
                f"{int(v):,}"
                for v in (
                    row.alerts,
                    row.already_recovered,
                    row.confirmed_active,
                    row.centralised_quarantine,
                    row.home_isolation,
                )
            ),
        )
    section.tables.append(table)
    return section, city


# ---------------------------------------------------------------------------------------------
# Part 3: a COVID-19 death


async def part_three(
    stubs: Stubs, args: argparse.Namespace, days: Days, city: CityResidents
) -> Section:
    deceased = city.deceased
    ward = deceased.permanent_residence.ward_code
    section = Section(
        f"3. A COVID-19 death in {_ward_name(ward)}: {deceased.full_name} ({deceased.citizen_id})"
    )
    health = stubs.case_status("health-agency-ho-chi-minh")
    civil = stubs.registry("civil-status-ho-chi-minh")
    police_alerts = stubs.alerts("police-ho-chi-minh")
    maker = stubs.welfare("welfare-officer")
    checker = stubs.welfare("welfare-checker")
    source = cpb.Source(agency="hcdc-ho-chi-minh", report_ref="demo-death")
    death_time = days.death

    await health.RecordStatus(
        case_pb.RecordStatusRequest(
            request_id="demo-death-1",
            event=cpb.StatusEvent(
                citizen_id=deceased.citizen_id,
                effective_time=_timestamp(days.death_f0),
                classification=cpb.CLASSIFICATION_F0,
                care=cpb.Care(setting=cpb.CARE_SETTING_HOSPITAL, ward_code=ward, facility=HOSPITAL),
                condition=cpb.HEALTH_CONDITION_SEVERE,
                source=source,
            ),
        )
    )
    # The hospital's report starts the death workflow (as `dancu report-death` does): it
    # records the outcome in case status, registers the death, finds the survivors and opens
    # their benefit cases. A second run joins the finished workflow and starts nothing.
    temporal = await connect(args.temporal, DEFAULT_NAMESPACE)
    report = DeathReport(
        deceased.citizen_id,
        death_time.date().isoformat(),
        "COVID-19",
        "hcdc-ho-chi-minh",
        "demo-death-report-1",
        HOSPITAL,
    )
    await report_death(temporal, report, DEFAULT_TASK_QUEUE)
    wid = death_workflow_id(deceased.citizen_id)
    handle = temporal.get_workflow_handle(wid, result_type=DeathRecorded)
    try:
        recorded = await asyncio.wait_for(handle.result(), args.alert_wait)
    except TimeoutError:
        raise DemoFailed(
            f"the death workflow {wid} did not finish within {args.alert_wait:.0f} s"
        ) from None
    section.add(
        f"death workflow {wid}",
        recorded.outcome,
        "the workflow's result (Temporal)",
        "DONE",
    )
    steps = await death_progress(temporal, deceased.citizen_id)
    steps_table = Table(
        title=f"the death workflow's steps (its progress query; Temporal UI: "
        f"{args.temporal_ui}/namespaces/{DEFAULT_NAMESPACE}/workflows/{wid})",
        title_justify="left",
    )
    steps_table.add_column("step")
    for event in steps.events:
        steps_table.add_row(event)
    section.tables.append(steps_table)

    resident = (
        await civil.GetResident(reg_pb.GetResidentRequest(citizen_id=deceased.citizen_id))
    ).resident
    section.add(
        "civil status",
        rpb.CivilStatus.Name(resident.civil_status).removeprefix("CIVIL_STATUS_"),
        "GetResident (registry), civil-status officer",
        "DECEASED",
    )
    section.add(
        "cause of death",
        rpb.DeathCause.Name(resident.death.cause).removeprefix("DEATH_CAUSE_"),
        "GetResident (registry)",
        "COVID19",
    )
    status = (
        await health.GetCaseStatus(case_pb.GetCaseStatusRequest(citizen_id=deceased.citizen_id))
    ).status
    section.add(
        "case outcome",
        cpb.Outcome.Name(status.outcome).removeprefix("OUTCOME_"),
        "GetCaseStatus (case status)",
        "DECEASED",
    )

    async def death_alert() -> apb.Alert | None:
        for alert in await all_alerts(police_alerts, ward, apb.ALERT_KIND_STATUS_CHANGE):
            if alert.citizen_id == deceased.citizen_id and alert.outcome == apb.OUTCOME_DECEASED:
                return alert
        return None

    alert = await _until(args.alert_wait, death_alert, f"the death alert of ward {ward}")
    section.add(
        f"ward {ward} alerted of the death",
        "yes" if alert.outcome == apb.OUTCOME_DECEASED else "no",
        f"ListAlerts (ward {ward}, status change), city police",
        "yes",
    )

    survivors = (
        await maker.FindSurvivors(
            welfare_pb.FindSurvivorsRequest(deceased_citizen_id=deceased.citizen_id)
        )
    ).survivors
    section.add("survivors found", len(survivors), "FindSurvivors (welfare)")
    survivors_table = Table(title="survivors (FindSurvivors)", title_justify="left")
    for column in ("citizen id", "name", "relationship", "alive", "orphan"):
        survivors_table.add_column(column)
    for survivor in survivors:
        survivors_table.add_row(
            survivor.citizen_id,
            survivor.full_name,
            wpb.SurvivorRelationship.Name(survivor.relationship).removeprefix(
                "SURVIVOR_RELATIONSHIP_"
            ),
            "yes" if survivor.alive else "no",
            "yes" if survivor.orphan else "",
        )
    section.tables.append(survivors_table)

    opened_cases = [
        (await maker.GetBenefitCase(welfare_pb.GetBenefitCaseRequest(case_id=case_id))).benefit_case
        for case_id in recorded.benefit_cases
    ]
    funeral = [c for c in opened_cases if c.program_code == FUNERAL_PROGRAM]
    if not funeral:
        raise DemoFailed(f"the death workflow opened no {FUNERAL_PROGRAM} case")
    opened = funeral[0]
    # The officer's acts go through welfare to the case's workflow, which records them; the
    # approval is paid by the workflow itself (eligibility checked again first). The same
    # request ids on a second run are answered from welfare's record.
    await checker.AssignBenefitCase(
        welfare_pb.AssignBenefitCaseRequest(request_id="demo-death-5", case_id=opened.case_id)
    )
    await checker.DecideBenefitCase(
        welfare_pb.DecideBenefitCaseRequest(
            request_id="demo-death-6",
            case_id=opened.case_id,
            decision=welfare_pb.DECISION_APPROVE,
            reason="Khai tử do COVID-19 đã đăng ký; thân nhân lo mai táng",
        )
    )

    async def paid() -> welfare_pb.GetBenefitCaseResponse | None:
        found = await maker.GetBenefitCase(welfare_pb.GetBenefitCaseRequest(case_id=opened.case_id))
        return found if found.benefit_case.state == wpb.CASE_STATE_PAID else None

    case = (
        await _until(args.alert_wait, paid, f"the payment of case {opened.case_id} by its workflow")
    ).benefit_case
    source_case = f"GetBenefitCase {case.case_id} (welfare)"
    section.add(
        f"{FUNERAL_PROGRAM} case",
        wpb.CaseState.Name(case.state).removeprefix("CASE_STATE_"),
        source_case,
        "PAID",
    )
    section.add("amount", f"{case.amount_vnd:,} ₫", source_case)
    section.add("opened by", case.opened_by, source_case)
    section.add("approved by", case.decided_by, source_case)
    section.add("paid by its workflow", case.payment_reference, source_case)
    section.add(
        "approver is not the opener",
        "yes" if case.decided_by and case.decided_by != case.opened_by else "no",
        source_case,
        "yes",
    )
    section.tables.append(history_table(case))
    section.notes.append(
        "The death workflow opened the case and handed it to its benefit-case workflow "
        f"({case.workflow_id}). The officer assigned and approved it through the welfare "
        "API, which handed each act to that workflow: it checked the act, recorded it in "
        "welfare, then checked eligibility again and recorded the payment."
    )
    return section


# ---------------------------------------------------------------------------------------------


def _refusal(error: grpc.aio.AioRpcError) -> str:
    """The status, message, reason and field violations of a refusal."""
    code = error.code()
    parts = [f"{code.name if code is not None else 'UNKNOWN'}: {error.details() or ''}"]
    status = rpc_status.from_call(error)
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            parts.append(f"reason {info.reason}")
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            parts.extend(f"{v.field}: {v.reason} ({v.description})" for v in bad.field_violations)
    return "; ".join(parts)


async def run(args: argparse.Namespace, out: Console | None = None) -> int:
    """0: the report agrees with the article; 1: a figure differs or a step failed."""
    out = out or Console()
    err = Console(stderr=True)
    env = devenv.DevEnv.from_env()
    addresses = Addresses(
        args.registry, args.case_status, args.alerts, args.welfare, args.temporal_ui
    )
    try:
        tokens = read_tokens(env)
    except DemoFailed as problem:
        err.print(f"[red]{problem}[/red]", highlight=False)
        return 2
    stubs = Stubs(addresses, tokens)
    sections: list[Section] = []
    try:
        out.print("[bold]dancu demo[/bold]: the seed article's story, through the public APIs\n")
        started = time.monotonic()
        one, days = await part_one(stubs, tokens, env, args)
        sections.append(one)
        print_section(out, one, started)
        started = time.monotonic()
        two, city = await part_two(stubs, args, days)
        sections.append(two)
        print_section(out, two, started)
        started = time.monotonic()
        sections.append(await part_three(stubs, args, days, city))
        print_section(out, sections[-1], started)
    except grpc.aio.AioRpcError as error:
        err.print(f"[red]the suite refused a step: {_refusal(error)}[/red]", highlight=False)
        return 1
    except DemoFailed as problem:
        err.print(f"[red]{problem}[/red]", highlight=False)
        return 1
    finally:
        await stubs.close()
    differing = [f for s in sections for f in s.figures if f.agrees is False]
    if differing:
        out.print(
            f"[red]{len(differing)} figure(s) differ from the article's[/red]: "
            + "; ".join(f"{f.label}: {f.value} (expected: {f.expected})" for f in differing),
            highlight=False,
        )
        return 1
    out.print("[green]every figure agrees with the article[/green]")
    return 0


def main(args: argparse.Namespace) -> int:
    return asyncio.run(run(args))
