"""``dancu``: start the suite, load demo data, run migrations, issue development tokens."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib
import os
import sys
from collections.abc import Sequence

from sqlalchemy import MetaData

from services.cli import demo, devenv, import_list, postgres, report_death, welfare
from services.cli.supervisor import Child, run_until_signalled
from services.kit.auth import Identity
from services.kit.channels import client_tls
from services.kit.config import ConfigError
from services.kit.db import create_engine
from services.kit.migrations import MigrationSet
from services.kit.request_ids import purge_responses, request_log_table
from services.kit.temporal import dev_server_path

DEFAULT_DEMO_POPULATION = 20_000
# AIP-155 asks servers to honour a request id for at least an hour; a month covers any
# client's retries and keeps personal data in stored responses no longer than that.
DEFAULT_RESPONSE_RETENTION_DAYS = 30
DEFAULT_REGISTRY_PORT = 50051
DEFAULT_CASE_STATUS_PORT = 50052
DEFAULT_ALERTS_PORT = 50053
DEFAULT_WELFARE_PORT = 50054
DEFAULT_TEMPORAL_PORT = 7233
DEFAULT_TEMPORAL_UI_PORT = 8233


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dancu", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    start = commands.add_parser("start", help="run the suite locally with embedded PostgreSQL")
    start.add_argument("--demo", action="store_true", help="load the demo population if empty")
    start.add_argument("--population", type=int, default=DEFAULT_DEMO_POPULATION)
    start.add_argument(
        "--database-server-url",
        default=os.environ.get("DANCU_DATABASE_SERVER_URL"),
        help="use this PostgreSQL server instead of the embedded one",
    )

    migrate = commands.add_parser("migrate", help="bring a service database to the latest schema")
    migrate.add_argument(
        "--service", choices=sorted(postgres.SERVICE_DATABASES), default="registry"
    )
    migrate.add_argument("--database-url", required=True)

    seed = commands.add_parser("seed", help="bulk-load a demo population into the registry")
    seed.add_argument("--database-url", required=True)
    seed.add_argument("--count", type=int, default=DEFAULT_DEMO_POPULATION)
    seed.add_argument("--seed", type=int, default=2021)
    seed.add_argument("--replace", action="store_true", help="replace existing residents")

    token = commands.add_parser("token", help="issue a development token")
    token.add_argument("--persona", choices=sorted(devenv.PERSONAS))
    token.add_argument("--subject")
    token.add_argument("--agency", default="dev")
    token.add_argument("--role", action="append", default=[])
    token.add_argument(
        "--ward", action="append", default=[], help='a ward code, or "*" for every ward'
    )
    token.add_argument("--purpose", default="development")
    token.add_argument("--ttl", type=int, default=3600, help="seconds")

    purge = commands.add_parser(
        "purge-responses",
        help="drop the stored responses of old requests (they hold personal data)",
    )
    purge.add_argument("--database-url", required=True, help="a service's database")
    purge.add_argument(
        "--older-than-days",
        type=int,
        default=DEFAULT_RESPONSE_RETENTION_DAYS,
        help="keep the responses of requests younger than this",
    )

    import_list_parser = commands.add_parser(
        "import-list", help="import a health agency's daily case list (CSV) into case status"
    )
    import_list.add_arguments(import_list_parser)

    welfare_parser = commands.add_parser(
        "welfare", help="a welfare officer's queue, cases with their eligibility, decisions"
    )
    welfare.add_arguments(welfare_parser)

    report_death_parser = commands.add_parser(
        "report-death", help="report a death from COVID-19 (starts or joins its workflow)"
    )
    report_death.add_arguments(report_death_parser)

    demo_parser = commands.add_parser(
        "demo", help="play the seed article's story against the running suite, print a report"
    )
    demo.add_arguments(demo_parser)

    args = parser.parse_args(argv)
    if args.command in ("demo", "import-list", "welfare"):
        # Read before any call, so incomplete TLS settings end the command with one line.
        try:
            client_tls()
        except ConfigError as error:
            print(f"dancu {args.command}: {error}", file=sys.stderr)
            return 2
    if args.command == "demo":
        return demo.main(args)
    if args.command == "report-death":
        return report_death.main(args)
    if args.command == "import-list":
        return import_list.main(args)
    if args.command == "welfare":
        return welfare.main(args)
    if args.command == "start":
        return _start(args)
    if args.command == "migrate":
        return _migrate(args.service, args.database_url)
    if args.command == "purge-responses":
        return _purge_responses(args.database_url, args.older_than_days)
    if args.command == "seed":
        return _seed(args.database_url, args.count, args.seed, args.replace)
    return _token(args)


def _migrate(service: str, database_url: str) -> int:
    # Imported by name so that each service's migrations load only when asked for.
    migrations: MigrationSet = importlib.import_module(f"services.{service}.migrations").MIGRATIONS
    migrations.upgrade(database_url)
    print(f"{service}: schema at {migrations.head()}")
    return 0


def _purge_responses(database_url: str, older_than_days: int) -> int:
    if older_than_days < 0:
        print("--older-than-days must be 0 or more", file=sys.stderr)
        return 2
    older_than = dt.datetime.now(dt.UTC) - dt.timedelta(days=older_than_days)

    async def purge() -> int:
        engine = create_engine(database_url, pool_size=1)
        try:
            async with engine.begin() as conn:
                return await purge_responses(conn, request_log_table(MetaData()), older_than)
        finally:
            await engine.dispose()

    purged = asyncio.run(purge())
    cutoff = f"{older_than:%Y-%m-%d %H:%M} UTC"
    print(f"dropped the stored responses of {purged:,} requests claimed before {cutoff}")
    return 0


def _seed(database_url: str, count: int, seed: int, replace: bool) -> int:
    from services.registry.demo import RegistryNotEmpty, load_population

    try:
        report = load_population(database_url, count, seed=seed, replace=replace)
    except RegistryNotEmpty:
        print(
            "the registry already holds residents; add --replace to replace them", file=sys.stderr
        )
        return 1
    print(
        f"loaded {report.residents:,} residents in {report.households:,} households "
        f"in {report.seconds:.1f}s"
    )
    return 0


def _token(args: argparse.Namespace) -> int:
    env = devenv.DevEnv.from_env()
    if args.persona:
        identity = devenv.PERSONAS[args.persona]
    elif args.subject and args.role:
        identity = Identity(
            args.subject, args.agency, frozenset(args.role), frozenset(args.ward), args.purpose
        )
    else:
        print("give --persona, or --subject with at least one --role", file=sys.stderr)
        return 2
    print(env.issuer().issue(identity, args.ttl))
    return 0


def _start(args: argparse.Namespace) -> int:
    from services.cli.welfare_examples import AmountInvalid, amounts_from

    try:
        amounts_from(os.environ)
    except AmountInvalid as problem:
        print(problem, file=sys.stderr)
        return 2
    env = devenv.DevEnv.from_env()
    env.ensure_keys()
    if args.database_server_url:
        return _run_suite(env, args, args.database_server_url)
    with postgres.embedded_server(env.pgdata) as server_url:
        return _run_suite(env, args, server_url)


def _run_suite(env: devenv.DevEnv, args: argparse.Namespace, server_url: str) -> int:
    from services.cli.demo_report import Endpoints, print_welcome, registry_has_residents

    urls = {
        service: postgres.ensure_database(server_url, database)
        for service, database in postgres.SERVICE_DATABASES.items()
    }
    for service, url in urls.items():
        _migrate(service, url)
    if args.demo and not registry_has_residents(urls["registry"]):
        _seed(urls["registry"], args.population, 2021, replace=False)
    tokens = env.write_persona_tokens()
    public_key = {"DANCU_AUTH_PUBLIC_KEY_FILE": str(env.public_key_path)}
    registry_port = int(os.environ.get("DANCU_REGISTRY_PORT", DEFAULT_REGISTRY_PORT))
    case_status_port = int(os.environ.get("DANCU_CASE_STATUS_PORT", DEFAULT_CASE_STATUS_PORT))
    temporal, temporal_ui = _temporal_dev_server(env)
    # Every service that relays an outbox or forwards to workflows, and the worker, find
    # Temporal here.
    on_temporal = {"DANCU_TEMPORAL_ADDRESS": temporal.address}
    registry = Child(
        "registry",
        f"127.0.0.1:{registry_port}",
        {
            **public_key,
            "DANCU_REGISTRY_DATABASE_URL": urls["registry"],
            # The registry relays its death events (a revoked death starts its correction).
            **on_temporal,
            "DANCU_REGISTRY_PORT": str(registry_port),
        },
    )
    case_status = Child(
        "case_status",
        f"127.0.0.1:{case_status_port}",
        {
            **public_key,
            "DANCU_CASE_STATUS_DATABASE_URL": urls["case_status"],
            "DANCU_CASE_STATUS_PORT": str(case_status_port),
            "DANCU_CASE_STATUS_REGISTRY_ADDRESS": registry.address,
            **on_temporal,
            # The service persona's token: case status calls the registry as a service.
            "DANCU_CASE_STATUS_REGISTRY_TOKEN_FILE": str(tokens["service"]),
        },
    )
    alerts_port = int(os.environ.get("DANCU_ALERTS_PORT", DEFAULT_ALERTS_PORT))
    alerts = Child(
        "alerts",
        f"127.0.0.1:{alerts_port}",
        {
            **public_key,
            "DANCU_ALERTS_DATABASE_URL": urls["alerts"],
            "DANCU_ALERTS_PORT": str(alerts_port),
            "DANCU_ALERTS_REGISTRY_ADDRESS": registry.address,
            "DANCU_ALERTS_CASE_STATUS_ADDRESS": case_status.address,
            "DANCU_ALERTS_SERVICE_TOKEN_FILE": str(tokens["service"]),
        },
    )
    welfare_port = int(os.environ.get("DANCU_WELFARE_PORT", DEFAULT_WELFARE_PORT))
    welfare_service = Child(
        "welfare",
        f"127.0.0.1:{welfare_port}",
        {
            **public_key,
            "DANCU_WELFARE_DATABASE_URL": urls["welfare"],
            "DANCU_WELFARE_PORT": str(welfare_port),
            "DANCU_WELFARE_REGISTRY_ADDRESS": registry.address,
            "DANCU_WELFARE_CASE_STATUS_ADDRESS": case_status.address,
            "DANCU_WELFARE_SERVICE_TOKEN_FILE": str(tokens["service"]),
            # Officers' acts on the cases the death workflow opened go to their workflows.
            **on_temporal,
        },
    )
    worker = Child(
        "workflows",
        "",
        {
            **on_temporal,
            "DANCU_WORKFLOWS_TOKEN_FILE": str(tokens["service"]),
            "DANCU_WORKFLOWS_REGISTRY_ADDRESS": registry.address,
            "DANCU_WORKFLOWS_CASE_STATUS_ADDRESS": case_status.address,
            "DANCU_WORKFLOWS_ALERTS_ADDRESS": alerts.address,
            "DANCU_WORKFLOWS_WELFARE_ADDRESS": welfare_service.address,
        },
        command=[sys.executable, "-m", "workflows"],
    )
    endpoints = Endpoints(
        registry.address,
        case_status.address,
        alerts.address,
        welfare_service.address,
        urls,
        temporal=temporal.address,
        temporal_ui=temporal_ui,
    )

    def ready() -> None:
        from services.cli.welfare_examples import publish_examples

        publish_examples(welfare_service.address, tokens["welfare-supervisor"])
        print_welcome(endpoints, tokens)

    return run_until_signalled(
        [temporal, registry, case_status, alerts, welfare_service, worker], on_ready=ready
    )


def _temporal_dev_server(env: devenv.DevEnv) -> tuple[Child, str]:
    """The Temporal dev server and its web UI's address. Its history lives in
    ``.dancu/temporal.db``, so workflows survive a restart of the suite."""
    port = int(os.environ.get("DANCU_TEMPORAL_PORT", DEFAULT_TEMPORAL_PORT))
    ui_port = int(os.environ.get("DANCU_TEMPORAL_UI_PORT", DEFAULT_TEMPORAL_UI_PORT))
    command = [
        dev_server_path(),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--db-filename",
        str(env.home / "temporal.db"),
        "--log-level",
        "error",
    ]
    return Child(
        "temporal", f"127.0.0.1:{port}", {}, command=command
    ), f"http://127.0.0.1:{ui_port}"
