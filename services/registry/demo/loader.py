"""Bulk-loads the demo population into a registry database with binary COPY.

One transaction writes households, then residents, then their residence records. Residents are
drawn while their COPY is streaming, so generation in Python and insertion in PostgreSQL run
side by side (households go first because the residents' foreign key is checked at the end of
each COPY statement). Indexes and constraints stay as the migrations made them.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from operator import itemgetter

import psycopg
from psycopg.rows import TupleRow
from sqlalchemy.engine import make_url

from services.registry.demo.population import DemoPopulation, ResidenceRow, ResidentRow

COPY_HOUSEHOLDS = "COPY households (household_id) FROM STDIN (FORMAT BINARY)"
HOUSEHOLD_TYPES = ("uuid",)
COPY_RESIDENTS = (
    "COPY residents (citizen_id, full_name, name_key, birth_date, sex, household_id,"
    " relationship_to_head, perm_ward_code, perm_street, temp_ward_code, temp_street,"
    " temp_valid_from, temp_valid_to, civil_status, version) FROM STDIN (FORMAT BINARY)"
)
RESIDENT_TYPES = (
    "varchar", "text", "text", "date", "int2", "uuid", "int2", "varchar", "text", "varchar",
    "text", "date", "date", "int2", "int4",
)  # fmt: skip
COPY_RESIDENCE_HISTORY = (
    "COPY residence_history (citizen_id, kind, ward_code, street, valid_from, valid_to,"
    " recorded_by, recorded_agency, reason) FROM STDIN (FORMAT BINARY)"
)
RESIDENCE_TYPES = ("varchar", "int2", "varchar", "text", "date", "date", "text", "text", "text")
LOADED_TABLES = ("households", "residents", "residence_history")
# Tables holding residents and what hangs off them. audit_log is deliberately absent: it is
# append-only (a trigger refuses TRUNCATE) and records what happened to the replaced data.
POPULATION_TABLES = (*LOADED_TABLES, "civil_status_history", "civil_status_corrections")

Cursor = psycopg.Cursor[TupleRow]


class RegistryNotEmpty(RuntimeError):
    """The registry already holds residents and ``replace`` was not asked for."""


@dataclass(frozen=True)
class LoadReport:
    residents: int
    households: int
    seconds: float
    residence_records: int = 0

    def __str__(self) -> str:
        rate = self.residents / self.seconds if self.seconds > 0 else 0.0
        return (
            f"loaded {self.residents:,} residents in {self.households:,} households"
            f" ({self.residence_records:,} residence records)"
            f" in {self.seconds:.1f} s ({rate:,.0f} residents/s)"
        )


def psycopg_conninfo(database_url: str) -> str:
    """A libpq URI for a SQLAlchemy-style URL (any ``+driver``; ``?host=/socket/dir`` kept)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def load_population(
    database_url: str,
    count: int,
    seed: int = 2021,
    *,
    replace: bool = False,
    today: dt.date | None = None,
) -> LoadReport:
    """Writes ``count`` demo residents (deterministic for ``seed``) into an empty registry.

    Raises ``RegistryNotEmpty`` if residents exist, unless ``replace`` is true: then the
    population tables are emptied first, in the same transaction as the load.
    """
    started = time.perf_counter()
    population = DemoPopulation(count, seed, today=today)
    with psycopg.connect(psycopg_conninfo(database_url)) as conn, conn.cursor() as cursor:
        # Taken before the emptiness check so that two loaders cannot both find it empty;
        # plain reads of the registry are not blocked.
        cursor.execute(f"LOCK TABLE {', '.join(LOADED_TABLES)} IN SHARE ROW EXCLUSIVE MODE")
        if replace:
            cursor.execute(f"TRUNCATE {', '.join(POPULATION_TABLES)} CASCADE")
        elif cursor.execute("SELECT EXISTS (SELECT FROM residents)").fetchone() != (False,):
            raise RegistryNotEmpty(
                "the registry already has residents; pass replace=True (--replace) to"
                " delete them and their residence and civil-status records first"
            )
        households = copy_households(cursor, population.household_ids)
        residences: list[ResidenceRow] = []

        def residents() -> Iterable[ResidentRow]:
            for resident, records in population.people():
                residences.extend(records)
                yield resident

        written = copy_residents(cursor, residents())
        sort_for_copy(residences)
        records = copy_residence_history(cursor, residences)
        analyze_population(cursor)
    return LoadReport(
        residents=written,
        households=households,
        seconds=time.perf_counter() - started,
        residence_records=records,
    )


def sort_for_copy(residences: list[ResidenceRow]) -> None:
    """Orders residence rows by citizen id, in place.

    The database then checks their foreign key and fills their citizen index page after
    page instead of at random: it saves several times the second or so the sort takes.
    """
    residences.sort(key=itemgetter(0))


def analyze_population(cursor: Cursor) -> None:
    # Fresh statistics in the same transaction: the first demo queries after a load get
    # good plans without waiting for autovacuum to notice a million new rows.
    cursor.execute(f"ANALYZE {', '.join(LOADED_TABLES)}")


def copy_households(cursor: Cursor, household_ids: Iterable[uuid.UUID]) -> int:
    written = 0
    with cursor.copy(COPY_HOUSEHOLDS) as copy:
        copy.set_types(HOUSEHOLD_TYPES)
        for household_id in household_ids:
            copy.write_row((household_id,))
            written += 1
    return written


def copy_residents(cursor: Cursor, rows: Iterable[ResidentRow]) -> int:
    written = 0
    with cursor.copy(COPY_RESIDENTS) as copy:
        copy.set_types(RESIDENT_TYPES)
        for row in rows:
            copy.write_row(row)
            written += 1
    return written


def copy_residence_history(cursor: Cursor, rows: Iterable[ResidenceRow]) -> int:
    written = 0
    with cursor.copy(COPY_RESIDENCE_HISTORY) as copy:
        copy.set_types(RESIDENCE_TYPES)
        for row in rows:
            copy.write_row(row)
            written += 1
    return written
