"""A small closed-loop load driver for gRPC benchmarks, and the table that reports them.

Closed loop: ``concurrency`` workers each keep exactly one call in flight, issuing the next as
soon as the previous one returns, so the offered load adapts to the server instead of queueing
without bound. A warm-up period (connections, pools, caches, first-call costs) is run and
thrown away, then calls completing within the measuring window are counted: the window ends
after ``seconds`` or once ``max_calls`` calls were counted, whichever comes first, and the
calls still in flight are awaited (bounded by ``drain_seconds``) but not counted.

Process layout. The load generator must not run in the server's process: both are Python
and grpc.aio, and sharing one event loop and one GIL would make each call pay for the other
side's work twice and hide the server's real limits. A benchmark therefore starts the server
under test as a separate process (see ``bench.get_resident``) and drives it from its own
process over loopback (127.0.0.1 only). On a small machine the two processes and the database
still compete for the same cores, so absolute numbers say little; compare a real RPC with a
bare echo served by the same stack in the same run (``bench.echo``). ``cpu_probes`` help read
the result: each returns a cumulative CPU-seconds counter (this process, the server process)
and the result reports how much each used per counted call, which tells whose CPU runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import grpc

# One call of the benchmarked RPC; gets the call's sequence number (to pick its request).
Call = Callable[[int], Awaitable[object]]
# A cumulative CPU-seconds counter, read at the start and the end of the measuring window.
CpuProbe = Callable[[], float | None]


@dataclass(frozen=True)
class LoadResult:
    name: str
    concurrency: int
    seconds: float  # length of the measuring window
    calls: int  # successful calls completed in the window
    errors: int  # failed calls completed in the window
    error_codes: Mapping[str, int]
    latencies: Sequence[float]  # seconds, successful calls in the window, sorted
    # CPU seconds used in the window, by probe name (absent when a probe could not read).
    cpu_seconds: Mapping[str, float] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        """Successful calls per second."""
        return self.calls / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, q: float) -> float:
        """The ``q``-quantile (0..1) of the latencies in seconds, nearest rank; NaN if none."""
        if not self.latencies:
            return math.nan
        rank = max(1, math.ceil(q * len(self.latencies)))
        return self.latencies[rank - 1]

    @property
    def p50(self) -> float:
        return self.percentile(0.50)

    @property
    def p99(self) -> float:
        return self.percentile(0.99)

    def cpu_ms_per_call(self, probe: str) -> float | None:
        used = self.cpu_seconds.get(probe)
        total = self.calls + self.errors
        return None if used is None or total == 0 else used * 1000 / total


class _Window:
    def __init__(self, max_calls: int | None) -> None:
        self.measuring = False
        self.stopped = False
        self.max_calls = max_calls
        self.counted = 0
        self.enough = asyncio.Event()
        self.ended_at: float | None = None  # when max_calls was reached
        self.latencies: list[float] = []
        self.errors: Counter[str] = Counter()

    def record(self, latency: float, error: str | None) -> None:
        if not self.measuring:
            return
        if error is None:
            self.latencies.append(latency)
        else:
            self.errors[error] += 1
        self.counted += 1
        if self.max_calls is not None and self.counted >= self.max_calls:
            self.measuring = False
            self.ended_at = time.perf_counter()
            self.enough.set()


def _read(probes: Mapping[str, CpuProbe]) -> dict[str, float | None]:
    values: dict[str, float | None] = {}
    for name, probe in probes.items():
        try:
            values[name] = probe()
        except OSError:
            values[name] = None
    return values


async def closed_loop(
    name: str,
    call: Call,
    *,
    concurrency: int = 16,
    warmup_seconds: float = 2.0,
    seconds: float = 10.0,
    max_calls: int | None = None,
    drain_seconds: float = 10.0,
    cpu_probes: Mapping[str, CpuProbe] | None = None,
) -> LoadResult:
    """Drives ``call`` with ``concurrency`` calls in flight; see the module doc.

    ``call`` should set its own per-call deadline; the whole run is bounded anyway, by
    ``warmup_seconds + seconds + drain_seconds``. A call that raises counts as an error (by
    gRPC status code name, or by exception type for anything else); it does not stop the run.
    """
    if concurrency < 1 or seconds <= 0 or warmup_seconds < 0:
        raise ValueError("concurrency must be >= 1, seconds > 0 and warmup_seconds >= 0")
    probes = dict(cpu_probes or {})
    window = _Window(max_calls)
    sequence = itertools.count()
    clock = time.perf_counter

    async def worker() -> None:
        while not window.stopped:
            started = clock()
            error: str | None = None
            try:
                await call(next(sequence))
            except grpc.aio.AioRpcError as exc:
                error = exc.code().name
            except Exception as exc:
                error = type(exc).__name__
            window.record(clock() - started, error)
            if error is not None:
                # A call failing before it awaits anything must not starve the event loop.
                await asyncio.sleep(0)

    workers = [asyncio.create_task(worker(), name=f"{name}-{i}") for i in range(concurrency)]
    try:
        await asyncio.sleep(warmup_seconds)
        cpu_before = _read(probes)
        window_start = clock()
        window.measuring = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(window.enough.wait(), timeout=seconds)
        window.measuring = False
        window_end = window.ended_at or clock()
        cpu_after = _read(probes)
        window.stopped = True
        _, pending = await asyncio.wait(workers, timeout=drain_seconds)
        for task in pending:
            task.cancel()
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    cpu_used = {
        key: after - before
        for key in probes
        if (before := cpu_before[key]) is not None and (after := cpu_after[key]) is not None
    }
    return LoadResult(
        name=name,
        concurrency=concurrency,
        seconds=window_end - window_start,
        calls=len(window.latencies),
        errors=sum(window.errors.values()),
        error_codes=dict(window.errors),
        latencies=sorted(window.latencies),
        cpu_seconds=cpu_used,
    )


@contextlib.asynccontextmanager
async def channels(
    target: str, count: int = 1, *, ready_timeout: float = 10.0
) -> AsyncIterator[list[grpc.aio.Channel]]:
    """``count`` insecure channels to ``target`` (each its own HTTP/2 connection), ready."""
    if not target.startswith(("127.0.0.1:", "localhost:", "[::1]:")):
        raise ValueError(f"benchmarks target loopback only, not {target!r}")
    opened = [
        grpc.aio.insecure_channel(
            target,
            # Distinct channel args keep grpc from sharing one subchannel between them.
            options=[("grpc.channel_id", i), ("grpc.use_local_subchannel_pool", 1)],
        )
        for i in range(count)
    ]
    try:
        await asyncio.wait_for(
            asyncio.gather(*(channel.channel_ready() for channel in opened)),
            timeout=ready_timeout,
        )
        yield opened
    finally:
        await asyncio.gather(*(channel.close() for channel in opened))


def process_cpu_seconds() -> float:
    """CPU seconds (user + system) used by this process so far."""
    return time.process_time()


def linux_cpu_seconds(pids: Callable[[], Sequence[int]]) -> CpuProbe:
    """A probe of the user + system CPU of the processes ``pids()`` names (Linux ``/proc``).

    The set may change between readings (pooled database connections come and go): a process
    first seen counts whole (it started since the last reading, or this is the first one), one
    seen before counts what it used since, and one that has gone loses what it used after the
    last reading. Processes that cannot be read are skipped; None when none could be.
    """
    ticks = _clock_ticks()
    last: dict[int, int] = {}
    total = 0

    def probe() -> float | None:
        nonlocal total
        current: dict[int, int] = {}
        for pid in pids():
            try:
                with open(f"/proc/{pid}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            # Fields after the command name start at field 3 ("state"): utime is 14, stime 15.
            current[pid] = int(fields[11]) + int(fields[12])
        for pid, used in current.items():
            total += used - last.get(pid, 0)
        last.clear()
        last.update(current)
        return total / ticks if current else None

    return probe


def load_average() -> str:
    """The one-minute load average, printed beside results: a busy machine explains a lot."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def _clock_ticks() -> int:
    try:
        return os.sysconf("SC_CLK_TCK")
    except (ValueError, OSError, AttributeError):
        return 100


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.2f}"


def render_table(results: Sequence[LoadResult], cpu_columns: Sequence[str] = ()) -> str:
    """A plain-text table: one row per result, calls/s, p50, p99, errors, CPU ms per call."""
    header = ["run", "calls/s", "p50 ms", "p99 ms", "calls", "errors"]
    header += [f"{name} cpu ms/call" for name in cpu_columns]
    rows = [header]
    for result in results:
        row = [
            result.name,
            f"{result.throughput:.0f}",
            _ms(result.p50),
            _ms(result.p99),
            str(result.calls),
            str(result.errors)
            + (
                " (" + ", ".join(f"{k}={v}" for k, v in sorted(result.error_codes.items())) + ")"
                if result.errors
                else ""
            ),
        ]
        for name in cpu_columns:
            value = result.cpu_ms_per_call(name)
            row.append("-" if value is None else f"{value:.3f}")
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        cells = [
            cell.ljust(width) if column == 0 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)
