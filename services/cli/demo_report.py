"""What ``dancu start`` tells the user once the suite is up: where everything is, how to call it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from services.registry.domain.names import fold


def _conninfo(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def registry_has_residents(database_url: str) -> bool:
    with psycopg.connect(_conninfo(database_url)) as conn:
        return conn.execute("SELECT EXISTS (SELECT 1 FROM residents)").fetchone() == (True,)


def _sample_resident(database_url: str) -> tuple[str, str] | None:
    """A resident of Phường Hoàn Kiếm (ward 00070) to show in the examples."""
    with psycopg.connect(_conninfo(database_url)) as conn:
        row = conn.execute(
            "SELECT citizen_id, full_name FROM residents WHERE perm_ward_code = '00070' "
            "ORDER BY citizen_id LIMIT 1"
        ).fetchone()
        count = conn.execute("SELECT count(*) FROM residents").fetchone()
    print(f"  residents in the registry: {count[0] if count else 0:,}")
    return (row[0], row[1]) if row else None


@dataclass(frozen=True)
class Endpoints:
    registry: str
    case_status: str
    alerts: str
    welfare: str
    # Service name -> its database URL.
    databases: dict[str, str]
    temporal: str
    temporal_ui: str


def print_welcome(endpoints: Endpoints, tokens: dict[str, Path]) -> None:
    registry_address = endpoints.registry
    print("\ndancu is up.\n")
    print(f"  registry    (gRPC, plaintext): {endpoints.registry}")
    print(f"  case_status (gRPC, plaintext): {endpoints.case_status}")
    print(f"  alerts      (gRPC, plaintext): {endpoints.alerts}")
    print(f"  welfare     (gRPC, plaintext): {endpoints.welfare}")
    print(f"  Temporal    (gRPC, plaintext): {endpoints.temporal}")
    print(f"  Temporal web UI (workflows):   {endpoints.temporal_ui}")
    print("  worker: python -m workflows, task queue dancu")
    for service, url in endpoints.databases.items():
        print(f"  {service} database: {url}")
    sample = _sample_resident(endpoints.databases["registry"])
    print("\n  development tokens (valid 24 h; `dancu token --help` makes others):")
    for name, path in tokens.items():
        print(f"    {name:<24} {path}")
    police = tokens["ward-police-hoan-kiem"]
    print("\n  try it (grpcurl; `make install` put one in .venv/bin):")
    print(f"    grpcurl -plaintext {registry_address} list")
    print(f"    grpcurl -plaintext {registry_address} grpc.health.v1.Health/Check")
    if sample:
        citizen_id, name = sample
        print(
            f'    grpcurl -plaintext -H "authorization: Bearer $(cat {police})" \\\n'
            f'      -d \'{{"citizen_id": "{citizen_id}"}}\' \\\n'
            f"      {registry_address} dancu.registry.v1.RegistryService/GetResident"
        )
        folded = fold(name).upper()
        print(
            f'    grpcurl -plaintext -H "authorization: Bearer $(cat {police})" \\\n'
            f'      -d \'{{"name": "{folded}", "page_size": 5}}\' \\\n'
            f"      {registry_address} dancu.registry.v1.RegistryService/SearchResidents"
        )
        health = tokens["health-agency"]
        print(
            f'    grpcurl -plaintext -H "authorization: Bearer $(cat {health})" \\\n'
            f'      -d \'{{"citizen_id": "{citizen_id}"}}\' \\\n'
            f"      {endpoints.case_status} dancu.case_status.v1.CaseStatusService/GetCaseStatus"
        )
        _print_alerts_examples(endpoints.alerts, citizen_id, tokens)
        _print_welfare(endpoints.welfare, tokens, citizen_id)
    print("\n  Ctrl-C stops everything.\n", flush=True)


def _print_alerts_examples(address: str, citizen_id: str, tokens: dict[str, Path]) -> None:
    police = tokens["ward-police-hoan-kiem"]
    checkpoint = tokens["checkpoint-hoan-kiem"]
    registration = (
        '{"request_id": "demo-checkpoint-1", "checkpoint": {"code": "HK-DEMO-1", '
        '"name": "Chốt Hàng Bài", "ward_code": "00070", '
        '"operating_agency": "cong-an-phuong-hoan-kiem"}}'
    )
    print("\n  alerts: register a checkpoint (ward police), scan a QR code at it (checkpoint):")
    print(
        f'    grpcurl -plaintext -H "authorization: Bearer $(cat {police})" \\\n'
        f"      -d '{registration}' \\\n"
        f"      {address} dancu.alerts.v1.AlertsService/RegisterCheckpoint"
    )
    print(
        f'    grpcurl -plaintext -H "authorization: Bearer $(cat {checkpoint})" \\\n'
        f'      -d \'{{"request_id": "scan-1", "checkpoint_code": "HK-DEMO-1", '
        f'"qr_payload": "DC1:{citizen_id}"}}\' \\\n'
        f"      {address} dancu.alerts.v1.AlertsService/Scan"
    )
    print(
        f'    grpcurl -plaintext -H "authorization: Bearer $(cat {police})" \\\n'
        f'      -d \'{{"ward_code": "00070"}}\' \\\n'
        f"      {address} dancu.alerts.v1.AlertsService/ListAlerts"
    )


def _print_welfare(address: str, tokens: dict[str, Path], citizen_id: str) -> None:
    officer = tokens["welfare-officer"]
    print(
        f'    grpcurl -plaintext -H "authorization: Bearer $(cat {officer})" \\\n'
        f"      {address} dancu.welfare.v1.WelfareService/ListPrograms"
    )
    print(
        f'    grpcurl -plaintext -H "authorization: Bearer $(cat {officer})" \\\n'
        f'      -d \'{{"beneficiary_citizen_id": "{citizen_id}"}}\' \\\n'
        f"      {address} dancu.welfare.v1.WelfareService/CheckEligibility"
    )
    print("\n  welfare officers (maker: welfare-officer, checker: welfare-checker):")
    print(f"    dancu welfare check {citizen_id}")
    print("    dancu welfare queue --state open")
    print("    dancu welfare show CASE_ID")
    print("    dancu welfare assign CASE_ID --persona welfare-checker")
    print("    dancu welfare decide CASE_ID --approve --reason '...' --persona welfare-checker")
