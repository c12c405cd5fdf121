"""SQL statements as spans: children of the call that runs them, holding the statement with
its placeholders and, when one fails, the error's type, never a value."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.kit.db import create_engine

CITIZEN_ID = "079200001234"


async def test_statements_are_spans_of_the_call_without_their_values(
    empty_database_url: str,
) -> None:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    engine = create_engine(empty_database_url, pool_size=1, tracer_provider=provider)
    try:
        with provider.get_tracer("test").start_as_current_span("call") as call:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT :v AS v"), {"v": CITIZEN_ID})
                # PostgreSQL's message quotes the value it could not convert.
                with pytest.raises(DBAPIError, match=CITIZEN_ID):
                    await conn.execute(text("SELECT CAST(:v AS integer)"), {"v": CITIZEN_ID})
    finally:
        await engine.dispose()

    statements = [s for s in spans.get_finished_spans() if s.name.startswith("SELECT")]
    assert len(statements) == 2
    assert all(s.context.trace_id == call.get_span_context().trace_id for s in statements)
    assert all(
        s.parent is not None and s.parent.span_id == call.get_span_context().span_id
        for s in statements
    )
    failed = statements[1]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description == "NumericValueOutOfRange (SQLSTATE 22003)"
    for span in statements:
        assert CITIZEN_ID not in repr(dict(span.attributes or {}))
        assert CITIZEN_ID not in (span.status.description or "")
        assert all(CITIZEN_ID not in repr(e.attributes) for e in span.events)
