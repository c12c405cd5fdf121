"""Case-status settings, read from the environment once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from services.kit.config import Env, ServerSettings
from services.kit.temporal import TemporalSettings

DEFAULT_PORT = 50052
PREFIX = "DANCU_CASE_STATUS_"
DEFAULT_DATABASE_POOL_SIZE = 20
DEFAULT_REGISTRY_ADDRESS = "127.0.0.1:50051"


@dataclass(frozen=True)
class CaseStatusSettings:
    server: ServerSettings
    database_url: str
    database_pool_size: int
    # PEM of the Ed25519 public key that verifies callers' tokens.
    auth_public_key: bytes
    registry_address: str
    # This service's own token (role "service") for calling the registry.
    registry_token: str
    # Where the outbox is relayed to (None: not relayed by this process).
    temporal: TemporalSettings | None

    @staticmethod
    def from_env(env: Env) -> CaseStatusSettings:
        return CaseStatusSettings(
            server=ServerSettings.from_env(env, PREFIX, DEFAULT_PORT),
            database_url=env.string(f"{PREFIX}DATABASE_URL"),
            database_pool_size=env.integer(
                f"{PREFIX}DATABASE_POOL_SIZE", DEFAULT_DATABASE_POOL_SIZE
            ),
            auth_public_key=env.bytes_from_file_or_value("DANCU_AUTH_PUBLIC_KEY"),
            registry_address=env.string(f"{PREFIX}REGISTRY_ADDRESS", DEFAULT_REGISTRY_ADDRESS),
            registry_token=env.bytes_from_file_or_value(f"{PREFIX}REGISTRY_TOKEN").decode().strip(),
            temporal=TemporalSettings.from_env(env),
        )
