"""Publishing the example support programs to a running welfare service (``dancu start``).

Through the public API, as a welfare supervisor would: PublishProgram creates version 1 the
first time and changes nothing when the same content is published again, so every start may
publish them. Amounts come from ``DANCU_WELFARE_EXAMPLE_<FIELD>`` (fields of
``ExampleAmounts``, e.g. ``DANCU_WELFARE_EXAMPLE_MEAL_PER_DAY=100000``); a changed amount
publishes a new version.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from dancu.welfare.v1 import welfare_service_pb2 as pb
from dancu.welfare.v1 import welfare_service_pb2_grpc as pb_grpc

from services.kit.channels import open_channel
from services.welfare.api.convert import program_message
from services.welfare.domain.examples import ExampleAmounts, example_programs

ENV_PREFIX = "DANCU_WELFARE_EXAMPLE_"


class AmountInvalid(ValueError):
    """A ``DANCU_WELFARE_EXAMPLE_*`` setting that is not a positive whole number."""


def amounts_from(environ: Mapping[str, str]) -> ExampleAmounts:
    given = {}
    for field in dataclasses.fields(ExampleAmounts):
        name = ENV_PREFIX + field.name.upper()
        if name not in environ:
            continue
        value = environ[name].strip().replace("_", "")
        if not value.isdigit() or int(value) == 0:
            raise AmountInvalid(f"{name} must be a positive whole number (VND, days or years)")
        given[field.name] = int(value)
    return ExampleAmounts(**given)


async def _publish(
    address: str, token: str, amounts: ExampleAmounts
) -> list[pb.PublishProgramResponse]:
    channel = open_channel(address, token=lambda: token)
    try:
        stub = pb_grpc.WelfareServiceStub(channel)
        published = []
        for program in example_programs(amounts):
            message = program_message(program)
            digest = hashlib.sha256(message.SerializeToString(deterministic=True)).hexdigest()
            published.append(
                await stub.PublishProgram(
                    pb.PublishProgramRequest(
                        request_id=f"example-{program.code}-{digest[:16]}", program=message
                    )
                )
            )
        return published
    finally:
        await channel.close()


def publish_examples(address: str, token_file: Path) -> None:
    token = token_file.read_text().strip()
    for response in asyncio.run(_publish(address, token, amounts_from(os.environ))):
        state = "published" if response.created else "unchanged"
        program = response.program
        print(f"  example program {program.code} v{program.version}: {state}")
