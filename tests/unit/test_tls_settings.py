"""DANCU_TLS_* settings: off unless given, both halves of a key pair or neither, files read
at start-up with errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.cli import main as cli
from services.kit.channels import client_tls
from services.kit.config import ClientTls, ConfigError, Env, ServerSettings, ServerTls

CERT = b"-----BEGIN CERTIFICATE-----\ncert\n-----END CERTIFICATE-----\n"
KEY = b"-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n"
CA = b"-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    written = {}
    for name, content in {"cert": CERT, "key": KEY, "ca": CA}.items():
        path = tmp_path / f"{name}.pem"
        path.write_bytes(content)
        written[name] = str(path)
    return written


def test_nothing_set_is_plaintext_both_ways() -> None:
    assert ServerTls.from_env(Env({})) is None
    assert ClientTls.from_env(Env({})) is None
    assert ServerSettings.from_env(Env({}), "DANCU_REGISTRY_", 50051).tls is None


def test_a_key_pair_turns_on_server_tls_without_client_certificates(
    files: dict[str, str],
) -> None:
    env = Env({"DANCU_TLS_CERT_FILE": files["cert"], "DANCU_TLS_KEY_FILE": files["key"]})
    settings = ServerSettings.from_env(env, "DANCU_REGISTRY_", 50051)
    assert settings.tls == ServerTls(certificate_chain=CERT, private_key=KEY, client_ca=None)
    # A key pair alone does not make the process's channels TLS: that takes the CA.
    assert ClientTls.from_env(env) is None


def test_a_client_ca_requires_client_certificates(files: dict[str, str]) -> None:
    env = Env(
        {
            "DANCU_TLS_CERT_FILE": files["cert"],
            "DANCU_TLS_KEY_FILE": files["key"],
            "DANCU_TLS_CLIENT_CA_FILE": files["ca"],
        }
    )
    assert ServerTls.from_env(env) == ServerTls(CERT, KEY, client_ca=CA)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("DANCU_TLS_CERT_FILE", "DANCU_TLS_CERT_FILE is set but DANCU_TLS_KEY_FILE is not"),
        ("DANCU_TLS_KEY_FILE", "DANCU_TLS_KEY_FILE is set but DANCU_TLS_CERT_FILE is not"),
    ],
)
def test_half_a_key_pair_is_refused_on_both_sides(
    files: dict[str, str], given: str, message: str
) -> None:
    env = Env({given: files["cert"], "DANCU_TLS_CA_FILE": files["ca"]})
    for load in (ServerTls.from_env, ClientTls.from_env):
        with pytest.raises(ConfigError) as refused:
            load(env)
        assert str(refused.value) == f"{message}; set both or neither"


def test_a_client_ca_without_a_key_pair_is_refused(files: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="DANCU_TLS_CLIENT_CA_FILE needs DANCU_TLS_CERT_FILE"):
        ServerTls.from_env(Env({"DANCU_TLS_CLIENT_CA_FILE": files["ca"]}))


def test_a_ca_turns_on_client_tls_and_a_key_pair_makes_it_mutual(files: dict[str, str]) -> None:
    assert ClientTls.from_env(Env({"DANCU_TLS_CA_FILE": files["ca"]})) == ClientTls(CA)
    env = Env(
        {
            "DANCU_TLS_CA_FILE": files["ca"],
            "DANCU_TLS_CERT_FILE": files["cert"],
            "DANCU_TLS_KEY_FILE": files["key"],
            "DANCU_TLS_SERVER_NAME": "registry.dancu.internal",
        }
    )
    assert ClientTls.from_env(env) == ClientTls(
        root_certificates=CA,
        certificate_chain=CERT,
        private_key=KEY,
        server_name="registry.dancu.internal",
    )


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        ClientTls.from_env(Env({"DANCU_TLS_CA_FILE": str(tmp_path / "nowhere.pem")}))
    assert str(refused.value) == "DANCU_TLS_CA_FILE cannot be read: No such file or directory"


def test_a_file_that_is_not_pem_is_named(tmp_path: Path, files: dict[str, str]) -> None:
    der = tmp_path / "key.der"
    der.write_bytes(b"\x30\x82\x01\x0a")
    env = Env({"DANCU_TLS_CERT_FILE": files["cert"], "DANCU_TLS_KEY_FILE": str(der)})
    with pytest.raises(ConfigError) as refused:
        ServerTls.from_env(env)
    assert str(refused.value) == "DANCU_TLS_KEY_FILE is not a PEM file"


def test_the_cli_refuses_half_a_key_pair_before_calling(
    files: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DANCU_TLS_CA_FILE", files["ca"])
    monkeypatch.setenv("DANCU_TLS_KEY_FILE", files["key"])
    monkeypatch.delenv("DANCU_TLS_CERT_FILE", raising=False)
    client_tls.cache_clear()
    try:
        assert cli.main(["welfare", "queue", "--server", "127.0.0.1:1"]) == 2
    finally:
        client_tls.cache_clear()
    assert capsys.readouterr().err.splitlines() == [
        "dancu welfare: DANCU_TLS_KEY_FILE is set but DANCU_TLS_CERT_FILE is not; "
        "set both or neither"
    ]
