"""One unary RPC measured beside the bare echo of the same server, in the same run: what
``bench.get_resident`` and ``bench.get_case_status`` share.

The benchmark starts its server process: the service wired as its composition root wires it,
plus the echo of ``bench.echo`` behind the same interceptors. This process then drives it over
loopback with ``bench.harness.closed_loop``: echo, the RPC, echo again, each request naming one
of the sampled citizen ids in turn. The mean of the two echo runs is the ceiling, which damps
drift on a shared machine; the report gives the table, how far the two echo runs differ, and
the RPC's throughput and p99 beside the echo's, as ratios.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from dancu.bench.v1 import echo_service_pb2, echo_service_pb2_grpc

from bench.harness import (
    LoadResult,
    channels,
    closed_loop,
    linux_cpu_seconds,
    load_average,
    process_cpu_seconds,
    render_table,
)
from bench.server_process import ServerProcess

CALL_TIMEOUT_SECONDS = 10.0
LABEL_WIDTH = 31

# A stub's method on one channel, e.g. ``lambda c: RegistryServiceStub(c).GetResident``.
Method = Callable[[grpc.aio.Channel], Callable[..., Awaitable[Any]]]


@dataclasses.dataclass(frozen=True)
class Rpc:
    """The RPC under test: its name, its method, and its request for one citizen id."""

    name: str
    method: Method
    request: Callable[[str], Any]
    # The citizen id a response is about: the first call is checked against it.
    subject: Callable[[Any], str]


ECHO = Rpc(
    name="echo",
    method=lambda channel: echo_service_pb2_grpc.EchoServiceStub(channel).Echo,
    request=lambda citizen_id: echo_service_pb2.EchoRequest(payload=citizen_id),
    subject=lambda response: str(response.payload),
)


def add_load_arguments(
    parser: argparse.ArgumentParser, *, rpc: str, residents: int, pool_size: int, service: str
) -> None:
    """The options of the load, the population and the server every such benchmark takes."""
    parser.add_argument("--residents", type=int, default=residents, help="population size")
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight")
    parser.add_argument("--channels", type=int, default=1, help="gRPC channels (connections)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring window per run")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per run")
    parser.add_argument("--max-calls", type=int, default=None, help="end a window after N")
    parser.add_argument("--sample", type=int, default=10_000, help="distinct citizen ids used")
    parser.add_argument("--seed", type=int, default=2021, help="population and sample seed")
    parser.add_argument(
        "--pool-size",
        type=int,
        default=pool_size,
        help=f"server database pool ({service} default: {pool_size})",
    )
    parser.add_argument(
        "--keep-database", action="store_true", help="do not drop the databases made for the run"
    )
    parser.add_argument(
        "--profile-server", metavar="PATH", help=f"cProfile the server during {rpc}"
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)


@dataclasses.dataclass(frozen=True)
class Comparison:
    echo_before: LoadResult
    target: LoadResult
    echo_after: LoadResult
    cpu_columns: Sequence[str]
    profiled: bool

    @property
    def ceiling(self) -> float:
        """The echo's throughput, the mean of its two runs."""
        return statistics.fmean([self.echo_before.throughput, self.echo_after.throughput])

    @property
    def drift(self) -> float:
        """How far the two echo runs differ, relative to the ceiling."""
        gap = abs(self.echo_before.throughput - self.echo_after.throughput)
        return gap / self.ceiling if self.ceiling else 0.0

    @property
    def echo_p99(self) -> float:
        return statistics.fmean([self.echo_before.p99, self.echo_after.p99])

    @property
    def throughput_ratio(self) -> float:
        return self.target.throughput / self.ceiling if self.ceiling else 0.0

    @property
    def p99_ratio(self) -> float:
        return self.target.p99 / self.echo_p99 if self.echo_p99 > 0 else float("nan")


async def measure_against_echo(
    args: argparse.Namespace,
    server: ServerProcess,
    rpc: Rpc,
    citizen_ids: Sequence[str],
    token: str,
    setting: str,
) -> Comparison:
    """Echo, ``rpc``, echo again, as the module doc says; ``setting`` opens the printed
    description of the run (what is read, over how many residents)."""
    metadata = (("authorization", f"Bearer {token}"),)
    probes = {"client": process_cpu_seconds, "server": linux_cpu_seconds(lambda: [server.pid])}
    async with channels(f"127.0.0.1:{server.port}", args.channels) as opened:

        def caller(of: Rpc) -> Callable[[int], Awaitable[Any]]:
            methods = [of.method(channel) for channel in opened]

            async def call(i: int) -> Any:
                return await methods[i % len(methods)](
                    of.request(citizen_ids[i % len(citizen_ids)]),
                    metadata=metadata,
                    timeout=CALL_TIMEOUT_SECONDS,
                )

            return call

        echo, target = caller(ECHO), caller(rpc)
        # Fail fast, with the real error, if the set-up is wrong.
        for of, call in ((ECHO, echo), (rpc, target)):
            if of.subject(await call(0)) != citizen_ids[0]:
                raise RuntimeError(f"{of.name} answered about another resident")

        async def run(name: str, call: Callable[[int], Awaitable[Any]]) -> LoadResult:
            return await closed_loop(
                name,
                call,
                concurrency=args.concurrency,
                warmup_seconds=args.warmup,
                seconds=args.seconds,
                max_calls=args.max_calls,
                cpu_probes=probes,
            )

        print(
            f"{setting}, {args.concurrency} in flight on {args.channels} channel(s),"
            f" {args.warmup:g} s warm-up + {args.seconds:g} s per run;"
            f" {os.cpu_count()} cores, load average {load_average()} at start",
            flush=True,
        )
        echo_before = await run("echo (1)", echo)
        if args.profile_server:
            server.start_profiling()
        measured = await run(rpc.name, target)
        if args.profile_server:
            await server.stop_profiling()
        echo_after = await run("echo (2)", echo)
    return Comparison(echo_before, measured, echo_after, list(probes), bool(args.profile_server))


def print_comparison(comparison: Comparison, bar: float | None = None) -> None:
    """The table and the ratios; ``bar``, when the RPC has one, is a minimum throughput ratio."""
    c = comparison
    name = c.target.name
    print()
    print(render_table([c.echo_before, c.target, c.echo_after], c.cpu_columns))
    print(
        "(cpu ms/call: CPU time used per call by the load generator and by the server process;"
        " the database's is not counted)"
    )
    print()
    verdict = (
        ""
        if bar is None
        else f"  (bar >= {bar}): {'PASS' if c.throughput_ratio >= bar else 'BELOW BAR'}"
    )
    print_figure(
        "echo ceiling (mean of 2 runs)",
        f"{c.ceiling:,.0f} calls/s (the runs differ by {c.drift:.0%})",
    )
    print_figure(name, f"{c.target.throughput:,.0f} calls/s")
    print_figure(f"ratio {name} / echo", f"{c.throughput_ratio:.3f}{verdict}")
    print_figure(
        "p99",
        f"{name} {c.target.p99 * 1000:.2f} ms, echo {c.echo_p99 * 1000:.2f} ms"
        f" ({c.p99_ratio:.1f}x)",
    )
    errors = c.echo_before.errors + c.target.errors + c.echo_after.errors
    if errors:
        print(f"WARNING: {errors} calls failed; see the errors column")
    if c.profiled:
        print(f"NOTE: the server was profiled during {name}; the ratios are not meaningful")


def print_figure(label: str, value: str) -> None:
    """One line of the figures under the table, values aligned."""
    print(f"{label + ':':<{LABEL_WIDTH}}{value}")
