"""A service process's start: settings, token key and schema checked before serving.

Anything incomplete ends the process with exit code 2 and one line on stderr naming what is
wrong, never a stack trace, so an orchestrator's log says why a pod does not start.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from services.kit.auth import InvalidPublicKey, TokenVerifier
from services.kit.channels import client_tls
from services.kit.config import ConfigError, Env
from services.kit.migrations import MigrationSet, SchemaBehind
from services.kit.telemetry import configure_logging, setup_metrics, setup_tracing


class ServiceSettings(Protocol):
    @property
    def database_url(self) -> str: ...

    @property
    def auth_public_key(self) -> bytes: ...


S = TypeVar("S", bound=ServiceSettings)


def run_service(
    name: str,
    load: Callable[[Env], S],
    migrations: MigrationSet,
    serve: Callable[[S, TokenVerifier], Coroutine[Any, Any, None]],
) -> int:
    env = Env()
    configure_logging(env.string("DANCU_LOG_LEVEL", "INFO"))
    # The schema check runs Alembic, whose INFO lines would read like a migration happening.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        settings = load(env)
        # Read now, so that incomplete client TLS settings stop the start, not a later call.
        client_tls()
        verifier = TokenVerifier(settings.auth_public_key)
        migrations.ensure_current(settings.database_url)
    except (ConfigError, SchemaBehind, InvalidPublicKey) as error:
        print(f"{name}: cannot start: {error}", file=sys.stderr)
        return 2
    except SQLAlchemyError as error:
        # The driver's message names host and database, never data; the URL's password is
        # not part of it. libpq appends hints on further lines: the cause is the first.
        cause = str(getattr(error, "orig", error)).strip().splitlines()[0]
        print(f"{name}: cannot start: database unreachable: {cause}", file=sys.stderr)
        return 2
    service_name = f"dancu-{name.replace('_', '-')}"
    setup_tracing(service_name, env)
    try:
        setup_metrics(service_name, env, f"DANCU_{name.upper()}")
    except (ConfigError, OSError) as error:
        print(f"{name}: cannot start: metrics endpoint: {error}", file=sys.stderr)
        return 2
    asyncio.run(serve(settings, verifier))
    return 0
