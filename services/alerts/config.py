"""Alerts settings, read from the environment once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from services.alerts.domain.model import Classification
from services.alerts.domain.rules import DEFAULT_WARN_LEVELS
from services.kit.config import ConfigError, Env, ServerSettings

DEFAULT_PORT = 50053
PREFIX = "DANCU_ALERTS_"
DEFAULT_DATABASE_POOL_SIZE = 20
DEFAULT_REGISTRY_ADDRESS = "127.0.0.1:50051"
DEFAULT_CASE_STATUS_ADDRESS = "127.0.0.1:50052"
DEFAULT_WATCHLIST_POLL_MS = 500


def warn_levels(value: str, name: str) -> frozenset[Classification]:
    """ "F0,F1" → {F0, F1}; only F0 and F1 can be flagged."""
    levels = set()
    for part in value.split(","):
        word = part.strip().upper()
        if word not in ("F0", "F1"):
            raise ConfigError(f"{name} must list F0 and/or F1, got {value!r}")
        levels.add(Classification[word])
    return frozenset(levels)


@dataclass(frozen=True)
class AlertsSettings:
    server: ServerSettings
    database_url: str
    database_pool_size: int
    # PEM of the Ed25519 public key that verifies callers' tokens.
    auth_public_key: bytes
    registry_address: str
    case_status_address: str
    # This service's own token (role "service") for calling the registry and case status.
    service_token: str
    # How often each replica catches its watchlist up with the database.
    watchlist_poll_ms: int
    warn_levels: frozenset[Classification]

    @staticmethod
    def from_env(env: Env) -> AlertsSettings:
        poll = env.integer(f"{PREFIX}WATCHLIST_POLL_MS", DEFAULT_WATCHLIST_POLL_MS)
        if poll < 10:
            raise ConfigError(f"{PREFIX}WATCHLIST_POLL_MS must be at least 10, got {poll}")
        levels_name = f"{PREFIX}WARN_LEVELS"
        return AlertsSettings(
            server=ServerSettings.from_env(env, PREFIX, DEFAULT_PORT),
            database_url=env.string(f"{PREFIX}DATABASE_URL"),
            database_pool_size=env.integer(
                f"{PREFIX}DATABASE_POOL_SIZE", DEFAULT_DATABASE_POOL_SIZE
            ),
            auth_public_key=env.bytes_from_file_or_value("DANCU_AUTH_PUBLIC_KEY"),
            registry_address=env.string(f"{PREFIX}REGISTRY_ADDRESS", DEFAULT_REGISTRY_ADDRESS),
            case_status_address=env.string(
                f"{PREFIX}CASE_STATUS_ADDRESS", DEFAULT_CASE_STATUS_ADDRESS
            ),
            service_token=env.bytes_from_file_or_value(f"{PREFIX}SERVICE_TOKEN").decode().strip(),
            watchlist_poll_ms=poll,
            warn_levels=warn_levels(
                env.string(levels_name, ",".join(sorted(c.name for c in DEFAULT_WARN_LEVELS))),
                levels_name,
            ),
        )
