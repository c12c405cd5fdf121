"""GroupCommit: concurrent calls share batches, without timers, bounded, failing apart."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Sequence

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.kit.group_commit import GroupCommit


class Refused(Exception):
    pass


class FakeDatabase:
    """Records every batch it gets; a batch completes when the test releases it."""

    def __init__(self, *, gated: bool = True, refuse: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.running = 0
        self.most_running = 0
        self.refused: list[list[str]] = []
        self._gated = gated
        self._refuse = refuse
        self._gates: list[asyncio.Event] = []

    async def execute(self, items: Sequence[str]) -> list[str]:
        self.batches.append(list(items))
        gate = asyncio.Event()
        self._gates.append(gate)
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            if self._gated:
                await gate.wait()
            else:  # still a round trip: other tasks run meanwhile
                for _ in range(3):
                    await asyncio.sleep(0)
            if self._refuse in items:
                self.refused.append(list(items))
                raise Refused(f"batch {len(self.batches)} refused")
            return [item.upper() for item in items]
        finally:
            self.running -= 1

    def release(self, batch: int) -> None:
        self._gates[batch].set()

    def release_all(self) -> None:
        self._gated = False
        for gate in self._gates:
            gate.set()


async def settle() -> None:
    """Lets every ready task run until it blocks (no timers involved)."""
    for _ in range(10):
        await asyncio.sleep(0)


def submit(group: GroupCommit[str, str], *items: str) -> list[asyncio.Task[str]]:
    return [asyncio.ensure_future(group.submit(item)) for item in items]


async def test_a_call_on_an_idle_batcher_is_sent_at_once_alone() -> None:
    db = FakeDatabase()
    group = GroupCommit(db.execute)

    [call] = submit(group, "a")
    await settle()

    assert db.batches == [["a"]]  # sent within a few loop turns: no timer, no waiting for more
    db.release_all()
    assert await call == "A"
    assert (group.batches, group.largest_batch) == (1, 1)


async def test_calls_arriving_while_batches_run_wait_for_the_next_batch() -> None:
    db = FakeDatabase()
    group = GroupCommit(db.execute, max_in_flight=2)

    first = submit(group, "a")
    await settle()
    second = submit(group, "b")
    await settle()
    queued = submit(group, "c", "d", "e")
    await settle()

    assert db.batches == [["a"], ["b"]]
    assert (group.in_flight, group.waiting) == (2, 3)

    db.release(0)
    await settle()
    assert db.batches == [["a"], ["b"], ["c", "d", "e"]]
    assert await first[0] == "A"
    assert not second[0].done()  # batches complete independently

    db.release_all()
    assert await asyncio.gather(*second, *queued) == ["B", "C", "D", "E"]
    assert db.most_running == 2
    assert (group.in_flight, group.waiting) == (0, 0)
    assert (group.batches, group.largest_batch) == (3, 3)


async def test_a_batch_takes_at_most_max_batch_calls_in_arrival_order() -> None:
    db = FakeDatabase()
    group = GroupCommit(db.execute, max_batch=3, max_in_flight=1)

    calls = submit(group, "a")
    await settle()
    calls += submit(group, "b", "c", "d", "e", "f", "g", "h")
    await settle()
    db.release_all()

    assert await asyncio.gather(*calls) == list("ABCDEFGH")
    assert db.batches == [["a"], ["b", "c", "d"], ["e", "f", "g"], ["h"]]
    assert db.most_running == 1


async def test_never_more_batches_in_flight_than_allowed() -> None:
    db = FakeDatabase(gated=False)
    group = GroupCommit(db.execute, max_batch=4, max_in_flight=3)

    async def caller(i: int) -> str:
        for _ in range(i % 5):
            await asyncio.sleep(0)
        return await group.submit(f"x{i}")

    results = await asyncio.gather(*(caller(i) for i in range(500)))

    assert results == [f"X{i}" for i in range(500)]
    assert sorted(item for batch in db.batches for item in batch) == sorted(
        f"x{i}" for i in range(500)
    )
    assert db.most_running == 3
    assert max(len(batch) for batch in db.batches) == 4
    assert group.batches == len(db.batches) < 500


async def test_a_failing_batch_fails_only_its_own_calls_and_batching_goes_on() -> None:
    db = FakeDatabase(refuse="bad")
    group = GroupCommit(db.execute, max_in_flight=2)

    before = submit(group, "a")
    await settle()
    doomed = submit(group, "b")
    await settle()
    doomed += submit(group, "bad", "c")  # queued behind "b": in the batch after it
    await settle()
    # Batches: [a], [b], then [bad, c] once one of them finishes; release in reverse order.
    db.release(1)
    await settle()
    assert db.batches == [["a"], ["b"], ["bad", "c"]]
    db.release(2)
    await settle()

    assert db.refused == [["bad", "c"]]  # the fault fired, on that batch only
    assert await doomed[0] == "B"
    for call in doomed[1:]:
        with pytest.raises(Refused, match="batch 3 refused"):
            await call
    db.release_all()
    assert await before[0] == "A"
    after = submit(group, "d", "e")
    assert await asyncio.gather(*after) == ["D", "E"]


async def test_results_that_do_not_match_the_batch_fail_its_calls() -> None:
    async def short(items: Sequence[str]) -> list[str]:
        return [item.upper() for item in items][:-1]

    group = GroupCommit(short)
    calls = submit(group, "a", "b")
    for call in calls:
        with pytest.raises(RuntimeError, match="1 results for a batch of 2"):
            await call


async def test_a_caller_cancelled_while_waiting_is_left_out_of_the_batch() -> None:
    db = FakeDatabase()
    group = GroupCommit(db.execute, max_in_flight=1)

    first = submit(group, "a")
    await settle()
    gone, stays = submit(group, "b", "c")
    await settle()
    gone.cancel()
    await settle()
    assert group.waiting == 1
    db.release_all()

    assert await first[0] == "A"
    assert await stays == "C"
    assert gone.cancelled()
    assert db.batches == [["a"], ["c"]]


async def test_a_caller_cancelled_while_its_batch_runs_does_not_break_the_batch() -> None:
    db = FakeDatabase()
    group = GroupCommit(db.execute, max_in_flight=1)

    gone, stays = submit(group, "a", "b")
    await settle()
    assert db.batches == [["a", "b"]]
    gone.cancel()
    await settle()
    db.release_all()

    assert await stays == "B"
    assert gone.cancelled()
    assert await group.submit("c") == "C"


async def test_a_call_arriving_as_the_last_batch_ends_is_still_sent() -> None:
    db = FakeDatabase(gated=False)
    group = GroupCommit(db.execute, max_in_flight=1)

    # Each call is submitted the moment the previous one is answered: its batch's task may
    # not have finished yet, yet a new one must start.
    async def one_after_another() -> list[str]:
        return [await group.submit(item) for item in ("a", "b", "c")]

    assert await asyncio.wait_for(one_after_another(), timeout=5) == ["A", "B", "C"]
    assert db.batches == [["a"], ["b"], ["c"]]


async def test_batches_do_not_run_in_a_callers_context() -> None:
    caller_trace: contextvars.ContextVar[str] = contextvars.ContextVar("caller_trace")
    seen: list[str | None] = []

    async def execute(items: Sequence[str]) -> list[str]:
        seen.append(caller_trace.get(None))
        return list(items)

    group = GroupCommit(execute)
    caller_trace.set("trace-of-the-first-caller")
    assert await group.submit("a") == "a"
    assert seen == [None]


def test_shutting_the_loop_down_with_batches_in_flight_does_not_hang() -> None:
    started = []

    async def hangs(items: Sequence[str]) -> list[str]:
        started.append(list(items))
        await asyncio.Event().wait()
        raise AssertionError("never answered")

    group: GroupCommit[str, str] = GroupCommit(hangs, max_in_flight=1)
    calls: list[asyncio.Task[str]] = []

    async def serve_and_leave() -> None:
        calls.extend(submit(group, "a"))
        await settle()
        calls.extend(submit(group, "b", "c"))
        await settle()

    # A loop of its own, torn down as asyncio.run does: what is left (the batch's task, the
    # waiting callers) is cancelled and waited for. A task that ignored it would hang here.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(serve_and_leave())
        left = asyncio.all_tasks(loop)
        for task in left:
            task.cancel()
        loop.run_until_complete(
            asyncio.wait_for(asyncio.gather(*left, return_exceptions=True), timeout=5)
        )
    finally:
        loop.close()

    assert started == [["a"]]
    assert all(call.cancelled() for call in calls)
    assert group.in_flight == 0


def test_limits_must_be_positive() -> None:
    async def execute(items: Sequence[str]) -> list[str]:
        return list(items)

    with pytest.raises(ValueError, match="at least 1"):
        GroupCommit(execute, max_batch=0)
    with pytest.raises(ValueError, match="at least 1"):
        GroupCommit(execute, max_in_flight=0)


async def test_a_batch_of_one_is_a_child_of_its_call_and_a_larger_one_links_its_calls() -> None:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracer = provider.get_tracer("test")
    db = FakeDatabase(gated=False)
    group = GroupCommit(db.execute, max_in_flight=1, tracer_provider=provider)

    async def call(item: str) -> trace.SpanContext:
        with tracer.start_as_current_span(f"call {item}") as span:
            await group.submit(item)
            return span.get_span_context()

    alone = await call("a")
    # Submitted before the batch's task first runs: the three leave together.
    together = await asyncio.gather(call("b"), call("c"), call("d"))

    batches = [s for s in spans.get_finished_spans() if s.name == "group commit"]
    assert [(s.attributes or {}).get("dancu.batch_size") for s in batches] == [1, 3]
    first, three = batches
    assert first.parent is not None
    assert (first.context.trace_id, first.parent.span_id) == (alone.trace_id, alone.span_id)
    assert three.parent is None
    assert {link.context.span_id for link in three.links} == {c.span_id for c in together}
