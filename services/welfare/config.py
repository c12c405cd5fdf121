"""Welfare settings, read from the environment once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from services.kit.config import Env, ServerSettings
from services.kit.temporal import TemporalSettings

DEFAULT_PORT = 50054
PREFIX = "DANCU_WELFARE_"
DEFAULT_DATABASE_POOL_SIZE = 10
DEFAULT_REGISTRY_ADDRESS = "127.0.0.1:50051"
DEFAULT_CASE_STATUS_ADDRESS = "127.0.0.1:50052"


@dataclass(frozen=True)
class WelfareSettings:
    server: ServerSettings
    database_url: str
    database_pool_size: int
    # PEM of the Ed25519 public key that verifies callers' tokens.
    auth_public_key: bytes
    registry_address: str
    case_status_address: str
    # This service's own token (role "service") for calling the registry and case status.
    service_token: str
    # Where the cases' workflows run: officers' acts on a workflow-driven case go there
    # (None: every act is recorded directly).
    temporal: TemporalSettings | None = None

    @staticmethod
    def from_env(env: Env) -> WelfareSettings:
        return WelfareSettings(
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
            temporal=TemporalSettings.from_env(env),
        )
