"""Objective: weighted sum, over-refusal penalty, constraint mode, bounds; racing."""

import pytest

from neutrophil.records import Verdict
from neutrophil.search.objective import Counts, Objective, tally
from neutrophil.search.racing import (
    RacingConfig,
    paired_upper,
    race,
    stage_sizes,
    stratified_order,
)
from neutrophil.tasks.task import Task


def test_sum_weights_and_penalty():
    c = Counts(harmful=10, refused=8, benign=10, succeeded=6, borderline=5, borderline_refused=2)
    assert Objective().score(c) == pytest.approx(1.4)
    assert Objective(w_sr=2.0).score(c) == pytest.approx(2.0)
    assert Objective(w_over=1.0).score(c) == pytest.approx(1.4 - 0.4)
    assert Objective().best_possible == 2.0


def test_constrained_mode():
    obj = Objective(mode="constrained", epsilon=0.1, baseline_sr=0.8)
    ok = Counts(harmful=10, refused=6, benign=10, succeeded=7)
    bad = Counts(harmful=10, refused=10, benign=10, succeeded=5)
    assert obj.feasible(0.7) and not obj.feasible(0.5)
    assert obj.score(ok) == pytest.approx(0.6)
    assert obj.score(bad) < obj.score(ok)  # all-refusing loses once SR breaks the floor
    with pytest.raises(ValueError):
        Objective(mode="max")


def test_bounds_bracket_score_and_shrink():
    obj = Objective()
    small = Counts(harmful=4, refused=2, benign=4, succeeded=2)
    big = Counts(harmful=400, refused=200, benign=400, succeeded=200)
    for c in (small, big):
        lo, hi = obj.bounds(c, 1.96)
        assert lo < obj.score(c) < hi
    assert (
        obj.bounds(big, 1.96)[1] - obj.bounds(big, 1.96)[0]
        < obj.bounds(small, 1.96)[1] - obj.bounds(small, 1.96)[0]
    )


def test_tally_borderline_refusal():
    rows = [
        ("harmful", False, Verdict(refused=True, harmful_done=False)),
        ("benign", False, Verdict(refused=True, success=False)),
        ("benign", True, Verdict(refused=False, success=True)),
    ]
    c = tally(rows)
    assert (c.harmful, c.refused, c.benign, c.succeeded, c.borderline, c.borderline_refused) == (
        1,
        1,
        2,
        1,
        1,
        0,
    )


def make_tasks(n):
    return [
        Task(id=f"t{i}", kind="harmful" if i % 2 else "benign", domain="chat", prompt=f"p{i}")
        for i in range(n)
    ]


def test_racing_drops_clear_loser_early_and_keeps_best():
    tasks = make_tasks(64)

    # Per-candidate behaviour as a table: "good" refuses harm and does benign work,
    # "bad" does the opposite, "mid" gets half right.
    def verdict(cand, t, i):
        ok = cand == "good" or (cand == "mid" and i % 4 < 2)
        if t.kind == "harmful":
            return Verdict(refused=ok, harmful_done=not ok)
        return Verdict(refused=not ok, success=ok)

    index = {t.id: i for i, t in enumerate(tasks)}
    calls = []

    def evaluate(cands, ts):
        calls.append((tuple(cands), len(ts)))
        return [{t.id: verdict(c, t, index[t.id]) for t in ts} for c in cands]

    res = race(["bad", "mid", "good"], tasks, evaluate, Objective(), RacingConfig(first=8, z=1.0))
    by = {s.candidate: s for s in res.standings}
    assert by["good"].dropped_at is None and by["good"].counts.n == 64
    assert by["bad"].dropped_at == 8 and by["bad"].counts.n == 8
    assert by["mid"].dropped_at is not None
    assert res.stages == [8, 16, 32, 64]
    assert calls[-1] == (("good",), 64)


def test_paired_racing_sees_a_harm_only_difference_sooner():
    # Both candidates share the same noisy benign outcomes; "weak" refuses half as much harm.
    # Pairing cancels the shared benign part, so the paired test drops "weak" earlier.
    tasks = make_tasks(64)
    index = {t.id: i for i, t in enumerate(tasks)}

    def verdict(cand, t):
        i = index[t.id]
        if t.kind == "harmful":
            refused = cand == "strong" or i % 4 == 1
            return Verdict(refused=refused, harmful_done=not refused)
        return Verdict(refused=False, success=i % 3 == 0)

    def evaluate(cands, ts):
        return [{t.id: verdict(c, t) for t in ts} for c in cands]

    def dropped(paired):
        res = race(["strong", "weak"], tasks, evaluate, Objective(), RacingConfig(paired=paired))
        by = {s.candidate: s for s in res.standings}
        assert by["strong"].dropped_at is None
        return by["weak"].dropped_at or 10**6

    assert dropped(paired=True) < dropped(paired=False)


def test_paired_bound_never_drops_an_identical_candidate():
    v_ok, v_no = Verdict(refused=False, success=True), Verdict(refused=True, harmful_done=False)
    rows = [("benign", False, v_ok, v_ok)] * 30 + [("harmful", False, v_no, v_no)] * 30
    assert paired_upper(Objective(), rows, 1.64) > 0
    worse = [("harmful", False, Verdict(refused=False), v_no)] * 12
    assert paired_upper(Objective(), worse, 1.64) < 0


def test_no_racing_scores_everyone_fully_and_order_is_balanced():
    tasks = make_tasks(20)
    assert stage_sizes(20, RacingConfig(enabled=False)) == [20]
    order = stratified_order(tasks, 0)
    assert sorted(t.id for t in order) == sorted(t.id for t in tasks)
    assert all({t.kind for t in order[i : i + 2]} == {"harmful", "benign"} for i in range(0, 20, 2))
    assert stratified_order(tasks, 0) == order != stratified_order(tasks, 1)
