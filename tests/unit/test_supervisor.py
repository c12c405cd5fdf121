"""``dancu start`` refuses a port something else holds, instead of taking that server's health
answer for its own child's."""

from __future__ import annotations

import socket

import pytest

from services.cli.supervisor import Child, run_until_signalled


def test_a_taken_port_stops_the_start_with_its_name(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        address = f"127.0.0.1:{holder.getsockname()[1]}"
        child = Child("registry", address, {}, command=["true"])

        assert run_until_signalled([child]) == 1

    assert child.process is None, "nothing was started"
    assert capsys.readouterr().err.strip() == (
        f"cannot start: registry: {address} is already in use (its DANCU_*_PORT setting moves it)"
    )
