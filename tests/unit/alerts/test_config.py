"""Alerts settings from the environment."""

from __future__ import annotations

import pytest

from services.alerts.config import AlertsSettings
from services.alerts.domain.model import Classification
from services.kit.config import ConfigError, Env

BASE = {
    "DANCU_ALERTS_DATABASE_URL": "postgresql://u@h/dancu_alerts",
    "DANCU_AUTH_PUBLIC_KEY": "pem",
    "DANCU_ALERTS_SERVICE_TOKEN": "token\n",
}


def test_defaults() -> None:
    settings = AlertsSettings.from_env(Env(BASE))

    assert settings.server.address == "127.0.0.1:50053"
    assert settings.watchlist_poll_ms == 500
    assert settings.warn_levels == {Classification.F0, Classification.F1}
    assert settings.service_token == "token"
    assert settings.case_status_address == "127.0.0.1:50052"


def test_warn_levels_and_poll_interval_are_checked() -> None:
    f0_only = AlertsSettings.from_env(Env({**BASE, "DANCU_ALERTS_WARN_LEVELS": " f0 "}))

    assert f0_only.warn_levels == {Classification.F0}
    with pytest.raises(ConfigError, match="DANCU_ALERTS_WARN_LEVELS"):
        AlertsSettings.from_env(Env({**BASE, "DANCU_ALERTS_WARN_LEVELS": "F0,F2"}))
    with pytest.raises(ConfigError, match="DANCU_ALERTS_WATCHLIST_POLL_MS"):
        AlertsSettings.from_env(Env({**BASE, "DANCU_ALERTS_WATCHLIST_POLL_MS": "1"}))
