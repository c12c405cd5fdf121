"""``dancu demo`` against the suite started as processes, as the run command starts it.

The demo plays the seed article's story through the public APIs and prints a report whose
figures come from the services' own queries. Run twice, it must print the same figures: every
mutation carries a deterministic request id, so the second run doubles nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.e2e.suite import Suite, running_suite

pytestmark = pytest.mark.e2e

# Large enough for ward 00070 (about 2% of the residents) to hold the 25 F0, 127 F1 and their
# contacts, and for Hồ Chí Minh City to hold the 135 flagged residents and a family.
POPULATION = 10_000


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    with running_suite(tmp_path_factory.mktemp("dancu-demo"), POPULATION) as running:
        # Wide enough that no table row of the report wraps.
        running.env["COLUMNS"] = "250"
        yield running


def figures(output: str) -> dict[str, tuple[str, str]]:
    """The report's figure rows: label -> (value, the query it came from)."""
    found = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        # "│ figure │ value │ seed │ mark │ from (query) │"
        if len(cells) == 7 and cells[5]:
            found[cells[1]] = (cells[2], cells[5])
    return found


def value(found: dict[str, tuple[str, str]], label: str) -> str:
    assert label in found, f"no figure {label!r} in {sorted(found)}"
    return found[label][0]


@pytest.mark.timeout(420)
def test_demo_prints_the_seed_figures_and_a_second_run_doubles_nothing(suite: Suite) -> None:
    first = suite.dancu("demo")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr
    found = figures(first.stdout)

    # Đồng Xuân: the list, its contacts, and both wards of the resident who lives elsewhere.
    assert value(found, "F0 recorded") == "25"
    assert value(found, "F1 recorded") == "127"
    assert int(value(found, "F2 derived from contacts")) > 0
    assert found["F0 recorded"][1].startswith("CountCases")
    assert value(found, "ward 00070 alerted (permanent residence)") == "yes"
    temporary = [
        label
        for label in found
        if re.fullmatch(r"ward \d{5} alerted \(temporary residence\)", label)
    ]
    assert len(temporary) == 1
    assert value(found, temporary[0]) == "yes"
    assert found[temporary[0]][1].startswith("ListAlerts")

    # Hồ Chí Minh City's checkpoints, as SummarizeAlerts counts them.
    assert value(found, "warnings raised at checkpoints") == "135"
    assert value(found, "verified by police") == "135"
    assert value(found, "already recovered") == "33"
    assert value(found, "F0 (confirmed active)") == "102"
    assert value(found, "in centralised quarantine") == "26"
    assert value(found, "isolating at home") == "76"
    assert found["already recovered"][1].startswith("SummarizeAlerts")

    # The death: civil status, case status, the ward's alert and a paid survivor benefit.
    assert value(found, "civil status") == "DECEASED"
    assert value(found, "case outcome") == "DECEASED"
    assert value(found, "COVID_FUNERAL_SUPPORT case") == "PAID"
    assert value(found, "approver is not the opener") == "yes"
    # Paid by the case's own workflow, which the officer's acts reached through welfare.
    assert re.fullmatch(
        r"benefit-case-[0-9a-f-]{36}:payment-1", value(found, "paid by its workflow")
    )
    # The death went through its workflow (Temporal), as `dancu report-death` starts it.
    workflow = [
        label for label in found if re.fullmatch(r"death workflow covid-death-\d{12}", label)
    ]
    assert len(workflow) == 1
    assert value(found, workflow[0]) == "DONE"
    assert "every figure agrees with the article" in first.stdout

    second = suite.dancu("demo")
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr
    assert figures(second.stdout) == found
