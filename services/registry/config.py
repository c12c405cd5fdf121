"""Registry settings, read from the environment once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from services.kit.config import Env, ServerSettings
from services.kit.temporal import TemporalSettings

DEFAULT_PORT = 50051
PREFIX = "DANCU_REGISTRY_"
DEFAULT_DATABASE_POOL_SIZE = 20


@dataclass(frozen=True)
class RegistrySettings:
    server: ServerSettings
    database_url: str
    database_pool_size: int
    # PEM of the Ed25519 public key that verifies callers' tokens.
    auth_public_key: bytes
    # Where the outbox is relayed to (None: not relayed by this process).
    temporal: TemporalSettings | None = None

    @staticmethod
    def from_env(env: Env) -> RegistrySettings:
        return RegistrySettings(
            server=ServerSettings.from_env(env, PREFIX, DEFAULT_PORT),
            database_url=env.string(f"{PREFIX}DATABASE_URL"),
            database_pool_size=env.integer(
                f"{PREFIX}DATABASE_POOL_SIZE", DEFAULT_DATABASE_POOL_SIZE
            ),
            auth_public_key=env.bytes_from_file_or_value("DANCU_AUTH_PUBLIC_KEY"),
            temporal=TemporalSettings.from_env(env),
        )
