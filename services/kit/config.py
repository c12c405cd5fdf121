"""Reading settings from the environment, with clear errors for what is missing or wrong."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class ConfigError(Exception):
    """Configuration is incomplete or invalid; the message names the variable."""


class Env:
    """Typed access to environment variables under a prefix (``DANCU_REGISTRY_``...)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def string(self, name: str, default: str | None = None) -> str:
        value = self._environ.get(name, default)
        if value is None or value == "":
            raise ConfigError(f"{name} is required")
        return value

    def optional(self, name: str) -> str | None:
        return self._environ.get(name) or None

    def integer(self, name: str, default: int) -> int:
        raw = self._environ.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError as exc:
            raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc

    def number(self, name: str, default: float) -> float:
        raw = self._environ.get(name)
        if raw is None or raw == "":
            return default
        try:
            return float(raw)
        except ValueError as exc:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from exc

    def bytes_from_file_or_value(self, name: str) -> bytes:
        """``NAME`` holds the value itself, or ``NAME_FILE`` a path to it (for mounted secrets)."""
        path = self._environ.get(f"{name}_FILE")
        if path:
            try:
                return Path(path).read_bytes()
            except OSError as exc:
                raise ConfigError(f"{name}_FILE cannot be read: {exc.strerror}") from exc
        return self.string(name).encode()


@dataclass(frozen=True)
class ServerSettings:
    host: str
    port: int
    # Seconds in-flight calls get to finish on shutdown.
    grace_seconds: float
    # Seconds between turning NOT_SERVING and refusing new calls, so load balancers that
    # poll health move traffic away first.
    drain_delay_seconds: float

    @staticmethod
    def from_env(env: Env, prefix: str, default_port: int) -> ServerSettings:
        return ServerSettings(
            host=env.string(f"{prefix}HOST", "127.0.0.1"),
            port=env.integer(f"{prefix}PORT", default_port),
            grace_seconds=env.number(f"{prefix}GRACE_SECONDS", 10.0),
            drain_delay_seconds=env.number(f"{prefix}DRAIN_DELAY_SECONDS", 0.0),
        )

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"
