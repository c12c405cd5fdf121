"""Welfare forwards officers' acts with payloads of its own that mirror the BenefitCase
workflow's (it shares no code with the workflows): the names, the workflow id and every field
must stay equal, or an act would reach the workflow with a field missing."""

from __future__ import annotations

import dataclasses

import pytest
from temporalio.converter import DataConverter

from services.welfare.adapters import case_workflows as mirror
from services.welfare.domain.cases import workflow_id as welfare_workflow_id
from services.welfare.domain.model import Actor
from services.welfare.ports import OfficerAct
from services.welfare.use_cases import cases as welfare_cases
from services.welfare.use_cases.cases import update_id
from workflows.benefit_case import models


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (mirror.Assignment, models.Assignment),
        (mirror.Decision, models.Decision),
        (mirror.DocumentsRequest, models.DocumentsRequest),
    ],
)
def test_payload_fields_mirror_the_workflows(ours: type, theirs: type) -> None:
    assert [f.name for f in dataclasses.fields(ours)] == [
        f.name for f in dataclasses.fields(theirs)
    ]


async def test_an_act_decodes_as_the_workflow_reads_it() -> None:
    converter = DataConverter.default
    act = OfficerAct(
        "decide", Actor("welfare.hk.03", "ubnd-hoan-kiem"), "r-1", "f-1", approve=True, reason="ok"
    )
    [payload] = await converter.encode([mirror.payload(act)])
    [decoded] = await converter.decode([payload], [models.Decision])
    assert decoded == models.Decision("welfare.hk.03", True, "ok", "ubnd-hoan-kiem", "r-1", "f-1")


def test_names_and_ids_are_the_workflows() -> None:
    assert (welfare_cases.ASSIGN, welfare_cases.DECIDE, welfare_cases.REQUEST_DOCUMENTS) == (
        models.ASSIGN,
        models.DECIDE,
        models.REQUEST_DOCUMENTS,
    )
    assert welfare_workflow_id("6f1c") == models.workflow_id("6f1c")


def test_a_retried_call_is_the_same_update_and_its_record_id_fits() -> None:
    first = update_id("decide", "so-lao-dong", "x" * 128)
    assert first == update_id("decide", "so-lao-dong", "x" * 128)
    # Another agency's request id, or another act, is another update.
    assert first != update_id("decide", "ubnd-tay-ho", "x" * 128)
    assert first != update_id("assign", "so-lao-dong", "x" * 128)
    assert len(f"{models.workflow_id('6f1c4a2e-0000-4000-8000-000000000001')}:{first}") <= 128
