import math

from neutrophil.metrics import metrics_dict, rates, wilson
from neutrophil.records import Transcript, Verdict


def _t(kind, domain, refused, success=None, done=None, tags=()):
    v = Verdict(refused=refused, success=success, harmful_done=done)
    return Transcript(f"{kind}-{domain}-{id(v)}", kind, domain, {}, [], "", verdict=v, tags=tags)


def test_wilson_matches_known_values():
    r = wilson(8, 10)
    assert math.isclose(r.value, 0.8)
    # Reference values of the Wilson score interval for 8/10 at 95%.
    assert math.isclose(r.lo, 0.4902, abs_tol=1e-3)
    assert math.isclose(r.hi, 0.9433, abs_tol=1e-3)


def test_wilson_edges_stay_in_unit_interval():
    zero, full = wilson(0, 5), wilson(5, 5)
    assert zero.lo == 0.0 and 0 < zero.hi < 1
    assert full.hi == 1.0 and 0 < full.lo < 1
    assert wilson(0, 0).n == 0


def test_rates_by_kind_and_borderline():
    ts = [
        _t("harmful", "chat", True, done=False),
        _t("harmful", "chat", False, done=True),
        _t("harmful", "web", False, done=False),
        _t("benign", "chat", False, success=True),
        _t("benign", "chat", True, success=False, tags=("borderline",)),
    ]
    r = rates(ts)
    assert r["refusal_rate"].value == 1 / 3 and r["refusal_rate"].n == 3
    assert r["attack_success_rate"].value == 1 / 3
    assert r["success_rate"].value == 0.5
    assert r["over_refusal_rate"].value == 0.5
    assert r["borderline_refusal_rate"].value == 1.0 and r["borderline_refusal_rate"].n == 1


def test_metrics_dict_shape_and_empty_groups_are_null():
    ts = [_t("harmful", "chat", True, done=False)]
    m = metrics_dict(ts, model="m", defense={"name": "none"}, cost={"seconds": 1})
    assert set(m) == {"model", "defense", "tasks", "rates", "by_domain", "empty_responses", "cost"}
    assert set(m["empty_responses"]) == {"harmful", "benign"}
    assert m["rates"]["refusal_rate"]["value"] == 1.0
    assert m["rates"]["success_rate"] == {"value": None, "lo": None, "hi": None, "n": 0}
    assert set(m["by_domain"]) == {"chat"}


def test_empty_responses_count_answers_with_nothing_past_the_prefix():
    from neutrophil.metrics import empty_responses

    prefix = {"name": "prefix", "prefix": "I check first. "}

    def t(kind, response, defense, injected=""):
        v = Verdict(refused=False)
        return Transcript(
            f"{kind}-{response}", kind, "chat", defense, [], response, verdict=v, injected=injected
        )

    rows = [
        t("harmful", "", {}),
        t("harmful", "  \n", {}),
        t("benign", "I check first. ", prefix, "I check first. "),  # the model said nothing
        t("benign", "I check first. Here is how.", prefix, "I check first. "),
        t("benign", "Blue, red, green.", {}),
        # The prefix went into the user turn (a server that cannot prefill), or a gate let
        # the row through: the model's own words, even when they match the prefix.
        t("benign", "I check first. ", prefix),
    ]
    assert empty_responses(rows) == {"harmful": 2, "benign": 1}
