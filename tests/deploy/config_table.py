"""The configuration table of docs/operations.md, read as data: which variable is read by which
process. Deployment manifests are checked against it, so the table stays the one source."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

from services.alerts.config import AlertsSettings
from services.case_status.config import CaseStatusSettings
from services.kit.config import ConfigError, Env
from services.registry.config import RegistrySettings
from services.welfare.config import WelfareSettings
from workflows.config import WorkerSettings

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "docs" / "operations.md"

# The processes of the suite, by the name the table's "read by" column uses, with the loader
# each runs at start-up (the loader raises ConfigError on incomplete configuration).
LOADERS: Mapping[str, Callable[[Env], object]] = {
    "registry": RegistrySettings.from_env,
    "case_status": CaseStatusSettings.from_env,
    "alerts": AlertsSettings.from_env,
    "welfare": WelfareSettings.from_env,
    "workflows": WorkerSettings.from_env,
}

_NAME = re.compile(r"`((?:DANCU|OTEL)_[A-Z0-9_]+)`")


def read_by() -> dict[str, set[str]]:
    """Variable → the processes the table says read it."""
    text = OPERATIONS.read_text()
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    table: dict[str, set[str]] = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        readers = {word.strip(" `") for word in cells[1].split(",")}
        for name in _NAME.findall(cells[0]):
            table.setdefault(name, set()).update(readers)
    return table


def startup_problem(process: str, environ: Mapping[str, str], scratch: Path) -> str | None:
    """What ``process`` would refuse to start with, given ``environ``; None when its settings
    load. Mounted files (``*_FILE``) are stood in for by scratch files, since what is checked
    here is that every setting is given, not the secrets' contents."""
    given = dict(environ)
    for name in environ:
        if name.endswith("_FILE"):
            stand_in = scratch / name
            stand_in.write_text("stand-in for the mounted secret")
            given[name] = str(stand_in)
    try:
        LOADERS[process](Env(given))
    except ConfigError as error:
        return str(error)
    return None


def table_problems(process: str, names: set[str]) -> list[str]:
    """Variables given to ``process`` that the table does not say it reads."""
    table = read_by()
    problems = []
    for name in sorted(names):
        if name not in table:
            problems.append(f"{process}: {name} is not in the configuration table")
        elif process not in table[name]:
            problems.append(f"{process}: the table says {name} is read by {sorted(table[name])}")
    return problems
