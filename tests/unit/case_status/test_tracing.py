"""Deriving F1-F3 from exposure links, recomputing after reclassification, the trace graph."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from services.case_status.domain.model import Classification, ExposureLink
from services.case_status.domain.tracing import (
    DerivedLevel,
    LevelChange,
    Pin,
    SourceCase,
    TraceNode,
    TracingInputs,
    TracingPolicy,
    derive,
    recompute_changes,
    trace_graph,
)
from services.kit.errors import InvalidInput
from tests.unit.case_status.builders import citizen, day, link

F0, F1, F2, F3 = Classification.F0, Classification.F1, Classification.F2, Classification.F3
CLEARED = Classification.CLEARED
A, B, C, D, E, F, G, H = (citizen(n) for n in range(1, 9))
X, Y = citizen(24), citizen(25)
CONFIRMED_ON = day(9, 15)


def reported(level: Classification, *ids: str, since: dt.date = CONFIRMED_ON) -> TracingInputs:
    """Residents whose level was reported: each a source and pinned, as ``inputs_from`` does."""
    return TracingInputs(
        sources={cid: SourceCase(level, since) for cid in ids},
        pins={cid: Pin(level, since) for cid in ids},
    )


def levels(result: dict[str, DerivedLevel]) -> dict[str, Classification]:
    return {cid: derived.level for cid, derived in result.items()}


CHAIN_DAY = day(9, 12)


def chain(*ids: str, on: dt.date = CHAIN_DAY) -> list[ExposureLink]:
    return [link(later, earlier, on) for earlier, later in itertools.pairwise(ids)]


def test_levels_follow_a_chain_from_an_f0_to_f3_and_stop() -> None:
    result = derive(chain(A, B, C, D, E), reported(F0, A))

    assert levels(result) == {B: F1, C: F2, D: F3}
    assert result[D] == DerivedLevel(F3, A, (A, B, C, D), day(9, 12))
    assert result[D].distance == 3


def test_levels_spread_over_a_branching_graph() -> None:
    links = [
        link(B, A, day(9, 10)),
        link(C, A, day(9, 11)),
        link(D, B, day(9, 12)),
        link(E, B, day(9, 12)),
        link(F, C, day(9, 13)),
        link(G, F, day(9, 14)),
        link(H, G, day(9, 14)),
    ]

    assert levels(derive(links, reported(F0, A))) == {B: F1, C: F1, D: F2, E: F2, F: F2, G: F3}


def test_links_are_followed_whichever_way_they_were_entered() -> None:
    # The F0 entered as the "contact" and its contact as the "source": still the same contact.
    links = [link(A, B, day(9, 10)), link(C, B, day(9, 11)), link(C, D, day(9, 12))]

    assert levels(derive(links, reported(F0, A))) == {B: F1, C: F2, D: F3}


@pytest.mark.parametrize(
    ("depth", "expected"),
    [(1, {B: F1}), (2, {B: F1, C: F2}), (3, {B: F1, C: F2, D: F3})],
)
def test_depth_limits_the_levels_derived(depth: int, expected: dict[str, Classification]) -> None:
    result = derive(chain(A, B, C, D, E), reported(F0, A), TracingPolicy(depth=depth))

    assert levels(result) == expected


@pytest.mark.parametrize("depth", [0, 4])
def test_depth_past_the_levels_that_exist_is_refused(depth: int) -> None:
    with pytest.raises(ValueError, match="depth"):
        TracingPolicy(depth=depth)


def test_a_resident_reachable_from_two_f0s_gets_the_nearer_level() -> None:
    links = [
        link(B, A, day(9, 10)),
        link(C, B, day(9, 11)),
        link(D, C, day(9, 12)),
        link(D, X, day(9, 12)),
    ]

    result = derive(links, reported(F0, A, X))

    assert levels(result) == {B: F1, C: F2, D: F1}
    assert result[D] == DerivedLevel(F1, X, (X, D), day(9, 12))
    # C is F2 both ways (A-B-C and X-D-C): the later exposure (12th, via D) is the one kept.
    assert result[C] == DerivedLevel(F2, X, (X, D, C), day(9, 12))


def test_a_reported_f1_spreads_f2_and_f3() -> None:
    result = derive(chain(B, C, D, E), reported(F1, B))

    assert levels(result) == {C: F2, D: F3}
    assert result[C].source_id == B


def test_reclassifying_the_only_f0_clears_everyone_downstream() -> None:
    links = chain(A, B, C, D)
    before = derive(links, reported(F0, A))
    # A is now CLEARED (a false positive): still a reported level, no longer a source.
    cleared = TracingInputs(pins={A: Pin(CLEARED, day(9, 18))})

    after = derive(links, cleared)

    assert after == {}
    assert recompute_changes(levels(before), after, cleared) == [
        LevelChange(B, F1, CLEARED, None),
        LevelChange(C, F2, CLEARED, None),
        LevelChange(D, F3, CLEARED, None),
    ]


def test_reclassifying_an_f0_leaves_the_levels_another_f0_gives() -> None:
    links = [link(B, A, day(9, 10)), link(C, B, day(9, 11)), link(C, X, day(9, 11))]
    before = derive(links, reported(F0, A, X))
    assert levels(before) == {B: F1, C: F1}
    still_confirmed = reported(F0, X)
    cleared = TracingInputs(
        sources=still_confirmed.sources,
        pins={**still_confirmed.pins, A: Pin(CLEARED, day(9, 18))},
    )

    after = derive(links, cleared)

    assert after == {
        B: DerivedLevel(F2, X, (X, C, B), day(9, 11)),
        C: DerivedLevel(F1, X, (X, C), day(9, 11)),
    }
    # Only B changes: C's level is the same, whatever it now comes from.
    assert recompute_changes(levels(before), after, cleared) == [
        LevelChange(B, F1, F2, after[B]),
    ]


def test_a_level_set_by_hand_stays_as_set_even_when_lower() -> None:
    links = [link(B, A, day(9, 14)), link(C, B, day(9, 14))]
    # B was reported F2 on the 16th, although a contact with F0 A on the 14th was recorded.
    inputs = TracingInputs(
        sources={**reported(F0, A).sources, B: SourceCase(F2, day(9, 16))},
        pins={**reported(F0, A).pins, B: Pin(F2, day(9, 16))},
    )

    result = derive(links, inputs)

    # B keeps F2 and is not relayed as an F1: C is only F3, from B's own report.
    assert result == {C: DerivedLevel(F3, B, (B, C), day(9, 14))}
    assert recompute_changes({}, result, inputs) == [LevelChange(C, None, F3, result[C])]


def test_a_hand_set_clearance_holds_against_the_contacts_it_weighed() -> None:
    # Contacts up to and including the day of the clearance were there to be weighed.
    links = [link(B, A, day(9, 14)), link(C, A, day(9, 16))]
    inputs = TracingInputs(
        sources=reported(F0, A).sources,
        pins={B: Pin(CLEARED, day(9, 16)), C: Pin(CLEARED, day(9, 16))},
    )

    assert derive(links, inputs) == {}


def test_a_contact_after_a_hand_set_level_raises_it_but_never_lowers_it() -> None:
    newer = [link(B, A, day(9, 17)), link(C, Y, day(9, 17))]
    inputs = TracingInputs(
        sources={**reported(F0, A).sources, **reported(F1, Y).sources},
        pins={B: Pin(CLEARED, day(9, 16)), C: Pin(F1, day(9, 16))},
    )

    result = derive(newer, inputs)

    # B met an F0 after being cleared: F1 again. C met an F1 (would be F2) but stays F1.
    assert result == {B: DerivedLevel(F1, A, (A, B), day(9, 17))}
    assert recompute_changes({}, result, inputs) == [LevelChange(B, CLEARED, F1, result[B])]


def test_contacts_outside_the_source_window_do_not_count() -> None:
    links = [
        link(B, A, day(9, 5)),  # 15 days before confirmation: too early
        link(C, A, day(9, 6)),  # 14 days before: counts
        link(D, A, day(9, 30)),
        link(E, A, day(10, 1)),  # after A recovered on 30 September
    ]
    recovered = TracingInputs(sources={A: SourceCase(F0, day(9, 20), until=day(9, 30))})

    assert levels(derive(links, recovered)) == {C: F1, D: F1}
    narrow = TracingPolicy(days_before=3)
    assert levels(derive(links, recovered, narrow)) == {D: F1}


def test_the_window_is_the_source_s_for_the_whole_chain() -> None:
    links = [link(B, A, day(9, 10)), link(C, B, day(8, 20))]  # C met B before A's window

    assert levels(derive(links, reported(F0, A))) == {B: F1}


def test_cycles_are_visited_once_at_the_nearest_level() -> None:
    links = [
        link(B, A, day(9, 10)),
        link(C, B, day(9, 10)),
        link(A, C, day(9, 10)),
        link(D, C, day(9, 11)),
        link(B, D, day(9, 11)),
    ]

    assert levels(derive(links, reported(F0, A))) == {B: F1, C: F1, D: F2}


def test_the_deceased_get_no_level_but_pass_it_on() -> None:
    inputs = TracingInputs(sources=reported(F0, A).sources, excluded=frozenset({B}))

    result = derive(chain(A, B, C), inputs)

    assert result == {C: DerivedLevel(F2, A, (A, B, C), day(9, 12))}
    assert recompute_changes({B: F1}, result, inputs) == [LevelChange(C, None, F2, result[C])]


def test_a_source_left_out_of_the_pins_is_not_given_a_lower_level() -> None:
    inputs = TracingInputs(sources={A: SourceCase(F0, CONFIRMED_ON), X: SourceCase(F0, day(9, 5))})

    assert levels(derive([link(A, X, day(9, 16))], inputs)) == {}


def test_trace_graph_shows_the_recorded_chain_to_a_depth() -> None:
    links = [*chain(A, B, C, D, E), link(X, C, day(9, 1))]

    near = trace_graph(links, C, depth=1)
    wider = trace_graph(links, C, depth=2)

    assert near.nodes == (TraceNode(C, 0), TraceNode(B, 1), TraceNode(D, 1), TraceNode(X, 1))
    assert {frozenset((k.contact_id, k.source_id)) for k in near.links} == {
        frozenset((B, C)),
        frozenset((C, D)),
        frozenset((C, X)),
    }
    assert [node.citizen_id for node in wider.nodes] == [C, B, D, X, A, E]
    assert len(wider.links) == 5


@pytest.mark.parametrize("depth", [0, 6])
def test_trace_depth_out_of_range_is_invalid_input(depth: int) -> None:
    with pytest.raises(InvalidInput) as exc:
        trace_graph([], A, depth)
    assert [(v.field, v.reason) for v in exc.value.violations] == [("depth", "DEPTH_OUT_OF_RANGE")]
