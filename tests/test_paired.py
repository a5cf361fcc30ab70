"""Paired comparisons: McNemar's exact test and the Agresti–Min interval."""

from __future__ import annotations

import math

import pytest

from neutrophil.paired import agresti_min, compare, mcnemar_exact, paired
from neutrophil.records import Transcript, Verdict


def test_mcnemar_exact_matches_the_binomial_tail():
    # 10 discordant pairs split 9:1 -> 2 * P(X <= 1), X ~ Bin(10, 1/2) = 2 * 11 / 1024.
    assert mcnemar_exact(9, 1) == pytest.approx(22 / 1024)
    assert mcnemar_exact(1, 9) == mcnemar_exact(9, 1)
    assert mcnemar_exact(5, 5) == 1.0 and mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(6, 0) == pytest.approx(2 / 64)


def test_agresti_min_adds_half_a_count_to_each_cell():
    est, var = agresti_min(3, 1, 10)
    assert est == pytest.approx((3.5 - 1.5) / 12)
    assert var == pytest.approx((5 - 2.0**2 / 12) / 144)


def test_pairing_finds_an_effect_the_unpaired_intervals_hide():
    # 40 tasks; a refuses 12 of them, b refuses the same 12 plus 8 more: every discordant
    # pair goes one way, which McNemar calls significant even though the Wilson intervals
    # of 30% and 50% at n=40 overlap.
    pairs = [(True, True)] * 12 + [(False, True)] * 8 + [(False, False)] * 20
    d = paired(pairs)
    assert d.n == 40 and d.only_a == 0 and d.only_b == 8
    assert d.diff == pytest.approx(-0.2)
    assert d.a.hi > d.b.lo  # the unpaired intervals overlap
    assert d.p_value == pytest.approx(2 / 256) and d.significant
    assert d.hi < 0  # the paired interval excludes zero


def test_identical_conditions_differ_by_nothing():
    d = paired([(True, True), (False, False)] * 10)
    assert d.diff == 0 and d.p_value == 1.0 and not d.significant
    assert d.lo < 0 < d.hi and math.isclose(d.lo, -d.hi)


def _t(i: int, kind: str, **v) -> Transcript:
    return Transcript(
        task_id=f"t{i}",
        kind=kind,
        domain="chat",
        defense={},
        messages=[],
        response="",
        verdict=Verdict(**v),
    )


def test_compare_pairs_transcripts_by_task_and_rate():
    a = [_t(i, "harmful", refused=True, harmful_done=False) for i in range(5)]
    a += [_t(10 + i, "benign", refused=False, success=True) for i in range(4)]
    b = [_t(i, "harmful", refused=i < 1, harmful_done=i >= 1) for i in range(5)]
    b += [_t(10 + i, "benign", refused=False, success=i < 2) for i in range(4)]
    b.append(_t(99, "harmful", refused=False, harmful_done=True))  # not in a: left out
    out = compare(a, b)
    assert out["refusal_rate"].n == 5 and out["refusal_rate"].only_a == 4
    assert out["attack_success_rate"].only_b == 4
    assert out["success_rate"].n == 4 and out["success_rate"].diff == pytest.approx(0.5)
    assert out["over_refusal_rate"].diff == 0


def test_eval_report_escapes_text_once_and_pairs_runs():
    from neutrophil.metrics import metrics_dict
    from neutrophil.report.eval_report import EvalRun, eval_report

    def run(label, refused):
        ts = [
            Transcript(
                task_id=f"t{i}",
                kind="harmful",
                domain="chat",
                defense={},
                messages=[{"role": "user", "content": 'What\'s "this" <b>?'}],
                response="<script>alert(1)</script> I can't",
                verdict=Verdict(refused=refused(i), harmful_done=not refused(i)),
            )
            for i in range(8)
        ]
        m = metrics_dict(ts, model="m", defense={"name": label}, cost={})
        return EvalRun(label, m, ts)

    html = eval_report([run("none", lambda i: False), run("guard", lambda i: True)])
    assert "What&#x27;s &quot;this&quot; &lt;b&gt;?" in html  # escaped once
    assert "&amp;#x27;" not in html and "&amp;quot;" not in html
    assert "<script>alert" not in html  # model text never becomes markup
    assert "Paired differences" in html and "p=0.00781*" in html  # 8 of 8 flipped


def test_rate_chart_draws_each_rate_to_scale_with_its_interval():
    import xml.etree.ElementTree as ET

    from neutrophil.metrics import wilson
    from neutrophil.report.svg import PLOT_H, bar_y, rate_panels

    rr, asr = wilson(3, 4), wilson(1, 4)
    series = [
        ("none <guard>", {"all": {"refusal_rate": rr, "success_rate": wilson(0, 0)}}),
        ("ping", {"all": {"refusal_rate": asr}}),
    ]
    svg = rate_panels({"refusal_rate": "RR", "success_rate": "SR"}, ["all"], series)
    ns = {"s": "http://www.w3.org/2000/svg"}
    rects = ET.fromstring(svg).iterfind(".//s:rect", ns)
    bars = [r for r in rects if r.find("s:title", ns) is not None]  # legend swatches have none
    # A bar per run with data: SR has n = 0 in the first run and no entry in the second.
    assert [b.find("s:title", ns).text for b in bars] == [
        f"none <guard>, all: {rr}",
        f"ping, all: {asr}",
    ]
    for bar, rate in zip(bars, (rr, asr), strict=True):
        assert float(bar.get("height")) == pytest.approx(rate.value * PLOT_H, abs=0.1)
        assert float(bar.get("y")) == pytest.approx(bar_y(rate.value), abs=0.1)
    assert "none &lt;guard&gt;" in svg  # labels are text, escaped once
