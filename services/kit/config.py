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


# TLS on the services' gRPC ports, and mutual TLS between dancu's own processes: off unless
# configured, so local development stays plaintext. The same variables serve a process's
# server and client side, so one certificate per process is enough: its DANCU_TLS_CERT_FILE is
# what it presents to its callers and, when it calls other services, to them (issue it for
# both server and client authentication). The PEM files are read once at start-up.
CERT_FILE = "DANCU_TLS_CERT_FILE"
KEY_FILE = "DANCU_TLS_KEY_FILE"
CLIENT_CA_FILE = "DANCU_TLS_CLIENT_CA_FILE"
CA_FILE = "DANCU_TLS_CA_FILE"
SERVER_NAME = "DANCU_TLS_SERVER_NAME"


@dataclass(frozen=True)
class ServerTls:
    certificate_chain: bytes
    private_key: bytes
    # Set: callers must present a certificate signed by this CA (mutual TLS).
    client_ca: bytes | None = None

    @staticmethod
    def from_env(env: Env) -> ServerTls | None:
        """None when no certificate is configured (plaintext)."""
        pair = _key_pair(env)
        if pair is None:
            if env.optional(CLIENT_CA_FILE):
                raise ConfigError(f"{CLIENT_CA_FILE} needs {CERT_FILE} and {KEY_FILE}")
            return None
        client_ca_path = env.optional(CLIENT_CA_FILE)
        return ServerTls(
            certificate_chain=pair[0],
            private_key=pair[1],
            client_ca=_read(CLIENT_CA_FILE, client_ca_path) if client_ca_path else None,
        )


@dataclass(frozen=True)
class ClientTls:
    # The CA that signs the services' certificates.
    root_certificates: bytes
    # This process's own certificate and key, presented when the server asks (mutual TLS).
    certificate_chain: bytes | None = None
    private_key: bytes | None = None
    # Checked against the server's certificate instead of the target's host, for targets
    # given as addresses the certificate does not name.
    server_name: str | None = None

    @staticmethod
    def from_env(env: Env) -> ClientTls | None:
        """None when no CA is configured (plaintext)."""
        ca_path = env.optional(CA_FILE)
        pair = _key_pair(env)
        if ca_path is None:
            return None
        return ClientTls(
            root_certificates=_read(CA_FILE, ca_path),
            certificate_chain=pair[0] if pair else None,
            private_key=pair[1] if pair else None,
            server_name=env.optional(SERVER_NAME),
        )


def _key_pair(env: Env) -> tuple[bytes, bytes] | None:
    cert_path, key_path = env.optional(CERT_FILE), env.optional(KEY_FILE)
    if cert_path is None and key_path is None:
        return None
    if cert_path is None or key_path is None:
        given, missing = (CERT_FILE, KEY_FILE) if key_path is None else (KEY_FILE, CERT_FILE)
        raise ConfigError(f"{given} is set but {missing} is not; set both or neither")
    return _read(CERT_FILE, cert_path), _read(KEY_FILE, key_path)


def _read(name: str, path: str) -> bytes:
    try:
        content = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{name} cannot be read: {exc.strerror}") from exc
    # gRPC's own error for a file that is not PEM comes late and names no variable.
    if b"-----BEGIN " not in content:
        raise ConfigError(f"{name} is not a PEM file")
    return content


@dataclass(frozen=True)
class ServerSettings:
    host: str
    port: int
    # Seconds in-flight calls get to finish on shutdown.
    grace_seconds: float
    # Seconds between turning NOT_SERVING and refusing new calls, so load balancers that
    # poll health move traffic away first.
    drain_delay_seconds: float
    # None: plaintext.
    tls: ServerTls | None = None

    @staticmethod
    def from_env(env: Env, prefix: str, default_port: int) -> ServerSettings:
        return ServerSettings(
            host=env.string(f"{prefix}HOST", "127.0.0.1"),
            port=env.integer(f"{prefix}PORT", default_port),
            grace_seconds=env.number(f"{prefix}GRACE_SECONDS", 10.0),
            drain_delay_seconds=env.number(f"{prefix}DRAIN_DELAY_SECONDS", 0.0),
            tls=ServerTls.from_env(env),
        )

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"
