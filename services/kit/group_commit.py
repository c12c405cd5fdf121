"""Group commit: concurrent calls share one database statement or transaction.

A call that must be durable before it answers (an audited read, a recorded scan) costs a
round trip and a commit. ``GroupCommit`` gathers the calls that arrive while earlier batches
are in the database and hands the next batch to one ``execute``: under light load every call
is its own batch, under heavy load the database sees a few large statements instead of many
small transactions.

No call waits for a timer: a call that finds fewer than ``max_in_flight`` batches running is
sent at once (a batch of one); the others queue and the next batch to leave takes up to
``max_batch`` of them.

Each batch runs in a span ``group commit`` linked to the spans of the calls it carries, so its
statements are found from any of them; a batch of one call is a child of that call's span
(the common case under light load reads as one trace).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeAlias, TypeVar

from opentelemetry import trace

Item = TypeVar("Item")
Result = TypeVar("Result")

# An item, the future of its caller's result, and the caller's span.
_Waiting: TypeAlias = tuple[Item, "asyncio.Future[Result]", trace.SpanContext]

MAX_BATCH = 256
# One batch at a time: the calls that arrive meanwhile leave together as soon as it returns.
MAX_IN_FLIGHT = 1


class GroupCommit(Generic[Item, Result]):
    """Runs ``execute`` on batches of the submitted items, at most ``max_in_flight`` at once.

    ``execute`` gets the items of one batch in arrival order and returns one result per item,
    in the same order. When it raises, every call of that batch (and only those) gets the
    exception. A caller cancelled while it waits is left out of its batch if the batch has not
    left yet; once sent, the batch completes for the others regardless. Batches run in tasks
    of their own, in an empty context: no caller's trace or identity leaks into them.
    """

    def __init__(
        self,
        execute: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]],
        *,
        max_batch: int = MAX_BATCH,
        max_in_flight: int = MAX_IN_FLIGHT,
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        if max_batch < 1 or max_in_flight < 1:
            raise ValueError("max_batch and max_in_flight must be at least 1")
        self._execute = execute
        self._tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._waiting: deque[_Waiting[Item, Result]] = deque()
        # Counted by the runners themselves, synchronously: a finished task leaves a set only
        # in a later callback, and a call arriving in between would wait for no one.
        self._runners = 0
        self._tasks: set[asyncio.Task[None]] = set()  # strong references while they run
        # Instruments (tests, benchmarks): batches sent to ``execute``, the calls they carried,
        # the largest batch.
        self.batches = 0
        self.calls = 0
        self.largest_batch = 0

    @property
    def waiting(self) -> int:
        """Calls queued for a batch that has not left yet."""
        return sum(1 for _, future, _ in self._waiting if not future.done())

    @property
    def in_flight(self) -> int:
        """Batches being executed (or about to be)."""
        return self._runners

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        caller = trace.get_current_span().get_span_context()
        self._waiting.append((item, future, caller))
        if self._runners < self._max_in_flight:
            self._runners += 1
            task = loop.create_task(self._run(), context=contextvars.Context())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _run(self) -> None:
        try:
            while batch := self._take():
                await self._run_batch(batch)
        finally:
            self._runners -= 1

    def _take(self) -> list[_Waiting[Item, Result]]:
        batch: list[_Waiting[Item, Result]] = []
        while self._waiting and len(batch) < self._max_batch:
            waiting = self._waiting.popleft()
            if not waiting[1].done():  # else its caller was cancelled before it was sent
                batch.append(waiting)
        return batch

    async def _run_batch(self, batch: list[_Waiting[Item, Result]]) -> None:
        self.batches += 1
        self.calls += len(batch)
        self.largest_batch = max(self.largest_batch, len(batch))
        callers = [caller for _, _, caller in batch if caller.is_valid]
        parent = (
            trace.set_span_in_context(trace.NonRecordingSpan(callers[0]))
            if len(batch) == 1 and callers
            else None
        )
        with self._tracer.start_as_current_span(
            "group commit",
            context=parent,
            links=[trace.Link(caller) for caller in callers],
            attributes={"dancu.batch_size": len(batch)},
        ):
            await self._complete(batch)

    async def _complete(self, batch: list[_Waiting[Item, Result]]) -> None:
        try:
            results = await self._execute([item for item, _, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for a batch of {len(batch)}")
        except Exception as error:
            for _, future, _ in batch:
                if not future.done():
                    future.set_exception(error)
            return
        except BaseException:  # cancelled (shutdown): so are the calls it carried
            for _, future, _ in batch:
                future.cancel()
            raise
        for (_, future, _), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
