"""Contact tracing: deriving F1-F3 from exposure links, and the contact graph around a resident.

The rules, in the order they apply:

- Links are undirected. "B was in contact with A" is the same contact as "A was in contact
  with B"; who was entered as the source says nothing about who infected whom, so levels
  spread both ways along a link.
- Levels spread from *sources*: residents whose level was reported (by a health agency or by
  hand) as F0, or as F1/F2 (a reported F1's contacts are F2). A source's contacts get the next
  level, their contacts the one after, to ``TracingPolicy.depth`` (default 3: F1, F2, F3).
  Derived levels never spread on their own: every derivation restarts from the sources, so a
  source reclassified CLEARED takes every level that came only from it away with it.
- A link spreads a source's level only when dated inside the source's window: from
  ``days_before`` days before the level was given (default 14: the contact happened while the
  source may already have been infectious) up to the source's end (an F0: its outcome or, while
  it runs, no end; a reported F1/F2: its isolation end). The window is the source's, applied to
  every link of its chain; hops are not required to be in date order (over-including is the
  safer error for tracing).
- A resident reached from several sources takes the highest level; at equal level the latest
  exposure (isolation counts from the last exposure), then the smaller source id, decide.
- A reported level stays as set: derivation never lowers it, and does not raise it through
  contacts dated up to the day it was set (the reporter weighed those). A contact dated later is
  news the reporter could not have weighed: it may raise the level (never lower it), and the
  raised resident then spreads as derived. A resident whose episode ended (recovered, or
  CLEARED by hand) is held the same way from the day it ended.
- The deceased get no level (nothing is recorded after a death) but, having been in contact
  before dying, still pass levels on.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from services.case_status.domain.model import (
    CaseStatus,
    Classification,
    ExposureLink,
    LevelOrigin,
    vietnam_date,
)
from services.kit.errors import Validator

MAX_DEPTH = 3  # F3 is the last level there is
MAX_TRACE_DEPTH = 5  # TraceContacts shows the graph further than levels go

Adjacency = Mapping[str, tuple[ExposureLink, ...]]


@dataclass(frozen=True)
class TracingPolicy:
    depth: int = 3
    days_before: int = 14

    def __post_init__(self) -> None:
        if not 1 <= self.depth <= MAX_DEPTH:
            raise ValueError("depth must be 1 (F1 only) to 3 (F1-F3)")
        if self.days_before < 0:
            raise ValueError("days_before must not be negative")


@dataclass(frozen=True)
class SourceCase:
    """A resident whose reported level spreads to their contacts."""

    level: Classification
    since: dt.date  # the day the level was given
    until: dt.date | None = None  # the last day it spreads; None while it runs

    def window_holds(self, day: dt.date, policy: TracingPolicy) -> bool:
        first = self.since - dt.timedelta(days=policy.days_before)
        return first <= day and (self.until is None or day <= self.until)


@dataclass(frozen=True)
class Pin:
    """A reported level: only contacts dated after ``decided_on`` may raise it."""

    level: Classification
    decided_on: dt.date

    def admits(self, candidate: Classification, contact_date: dt.date) -> bool:
        return contact_date > self.decided_on and candidate.is_higher_than(self.level)


@dataclass(frozen=True)
class TracingInputs:
    sources: Mapping[str, SourceCase] = field(default_factory=dict)
    pins: Mapping[str, Pin] = field(default_factory=dict)
    excluded: frozenset[str] = frozenset()  # the deceased

    def pin_of(self, citizen_id: str) -> Pin | None:
        """A source's reported level holds even if its pin was left out of ``pins``."""
        pin = self.pins.get(citizen_id)
        source = self.sources.get(citizen_id)
        if pin is None and source is not None:
            return Pin(source.level, source.since)
        return pin


@dataclass(frozen=True)
class DerivedLevel:
    level: Classification
    source_id: str
    path: tuple[str, ...]  # source first, the resident last
    contact_date: dt.date  # the resident's exposure: the last link of the path

    @property
    def distance(self) -> int:
        return len(self.path) - 1


@dataclass(frozen=True)
class LevelChange:
    citizen_id: str
    before: Classification | None  # None: no level
    after: Classification  # CLEARED when the derived level went away
    derived: DerivedLevel | None  # why, when there is a level


def inputs_from(statuses: Iterable[CaseStatus]) -> TracingInputs:
    """Sources, pins and the deceased from the residents' current (folded) statuses."""
    sources: dict[str, SourceCase] = {}
    pins: dict[str, Pin] = {}
    excluded: set[str] = set()
    for status in statuses:
        cid = status.citizen_id
        if status.deceased_at is not None:
            excluded.add(cid)
        level, classified_at, episode = status.classification, status.classified_at, status.episode
        if status.origin is not LevelOrigin.REPORTED or level is None or classified_at is None:
            continue
        since = vietnam_date(classified_at)
        closed = vietnam_date(episode.closed_at) if episode and episode.closed_at else None
        if level is Classification.CLEARED:
            pins[cid] = Pin(level, since)
        elif closed is None:
            pins[cid] = Pin(level, since)
            # An F0 spreads until an outcome; a contact level for its isolation only.
            until = None if level is Classification.F0 else status.isolation_end or since
            sources[cid] = SourceCase(level, since, until)
        else:
            # Recovered or deceased: no level holds any more, yet the contacts made while the
            # episode ran still count.
            pins[cid] = Pin(Classification.CLEARED, closed)
            sources[cid] = SourceCase(level, since, closed)
    return TracingInputs(sources, pins, frozenset(excluded))


def derive(
    links: Iterable[ExposureLink], inputs: TracingInputs, policy: TracingPolicy | None = None
) -> dict[str, DerivedLevel]:
    """The derived level of every resident it reaches (reported levels that hold excluded)."""
    policy = policy or TracingPolicy()
    adjacency = _adjacency(links)
    best: dict[str, DerivedLevel] = {}
    for source_id in sorted(inputs.sources):
        for resident, derived in _spread(source_id, inputs, adjacency, policy).items():
            if resident in inputs.excluded:
                continue
            current = best.get(resident)
            if current is None or _rank(derived) < _rank(current):
                best[resident] = derived
    return best


def _rank(derived: DerivedLevel) -> tuple[int, int, str, tuple[str, ...]]:
    return (derived.level, -derived.contact_date.toordinal(), derived.source_id, derived.path)


def _adjacency(links: Iterable[ExposureLink]) -> dict[str, tuple[ExposureLink, ...]]:
    unique = {link.key: link for link in links}  # the same contact entered twice counts once
    around: defaultdict[str, list[ExposureLink]] = defaultdict(list)
    for link in unique.values():
        around[link.contact_id].append(link)
        around[link.source_id].append(link)
    return {cid: tuple(sorted(found, key=lambda k: k.key)) for cid, found in around.items()}


def _spread(
    source_id: str, inputs: TracingInputs, adjacency: Adjacency, policy: TracingPolicy
) -> dict[str, DerivedLevel]:
    """Breadth-first from one source, a level per step; each resident at its nearest step."""
    source = inputs.sources[source_id]
    distance = source.level.distance
    if distance is None or distance >= policy.depth:
        return {}
    reached: dict[str, DerivedLevel] = {}
    seen = {source_id}
    frontier: list[tuple[str, tuple[str, ...]]] = [(source_id, (source_id,))]
    while frontier and distance < policy.depth:
        distance += 1
        candidate = Classification.at_distance(distance)
        step: dict[str, DerivedLevel] = {}
        for node, path in frontier:
            for link in adjacency.get(node, ()):
                other = link.other(node)
                if other in seen or not source.window_holds(link.contact_date, policy):
                    continue
                pin = inputs.pin_of(other)
                if pin is not None and not pin.admits(candidate, link.contact_date):
                    continue
                found = DerivedLevel(candidate, source_id, (*path, other), link.contact_date)
                if other not in step or _rank(found) < _rank(step[other]):
                    step[other] = found
        seen.update(step)
        reached.update(step)
        frontier = [(cid, step[cid].path) for cid in sorted(step)]
    return reached


def recompute_changes(
    before: Mapping[str, Classification],
    after: Mapping[str, DerivedLevel],
    inputs: TracingInputs,
) -> list[LevelChange]:
    """The residents whose level must change, by citizen id: the only ones to write events
    and outbox rows for.

    ``before``: the current derived levels (origin DERIVED) of the residents concerned;
    ``after``: ``derive``'s result. A derived level that went away becomes CLEARED; a reported
    level (pinned) changes only when ``after`` raises it.
    """
    changes = []
    for cid in sorted(set(before) | set(after)):
        if cid in inputs.excluded:
            continue
        derived = after.get(cid)
        pin = inputs.pin_of(cid)
        if pin is not None and derived is None:
            continue  # a reported level holds: derivation has nothing to say
        old = pin.level if pin is not None else before.get(cid)
        new = derived.level if derived is not None else Classification.CLEARED
        if (Classification.CLEARED if old is None else old) is new:
            continue
        changes.append(LevelChange(cid, old, new, derived))
    return changes


@dataclass(frozen=True)
class TraceNode:
    citizen_id: str
    distance: int  # links from the traced resident


@dataclass(frozen=True)
class TraceGraph:
    root: str
    nodes: tuple[TraceNode, ...]  # by distance, then citizen id; the root first
    links: tuple[ExposureLink, ...]  # every recorded link between two of the nodes


def trace_graph(links: Iterable[ExposureLink], root: str, depth: int) -> TraceGraph:
    """Everyone within ``depth`` links of ``root`` (any date: this shows what was recorded)."""
    v = Validator()
    v.check(
        1 <= depth <= MAX_TRACE_DEPTH, "depth", "DEPTH_OUT_OF_RANGE", f"must be 1-{MAX_TRACE_DEPTH}"
    )
    v.raise_if_any()
    adjacency = _adjacency(links)
    distances = {root: 0}
    frontier = [root]
    for distance in range(1, depth + 1):
        step = sorted(
            {
                link.other(node)
                for node in frontier
                for link in adjacency.get(node, ())
                if link.other(node) not in distances
            }
        )
        distances.update((cid, distance) for cid in step)
        frontier = step
    nodes = tuple(
        TraceNode(cid, d) for cid, d in sorted(distances.items(), key=lambda i: (i[1], i[0]))
    )
    edges = {
        link.key: link
        for node in distances
        for link in adjacency.get(node, ())
        if link.other(node) in distances
    }
    return TraceGraph(root, nodes, tuple(edges[key] for key in sorted(edges)))


def outside_pseudonyms(graph: TraceGraph, visible: Iterable[str]) -> dict[str, str]:
    """A pseudonym for each node not in ``visible`` ("outside-1", ... in node order): a
    ward-scoped caller learns that such a contact exists, not who it is."""
    shown = set(visible)
    hidden = [node.citizen_id for node in graph.nodes if node.citizen_id not in shown]
    return {cid: f"outside-{n}" for n, cid in enumerate(hidden, start=1)}
