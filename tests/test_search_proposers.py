"""Offline proposer determinism; LLM proposer parsing of good and malformed output."""

from dataclasses import dataclass, field

from neutrophil.judges.patterns import judge_text
from neutrophil.models.base import Backend, Generation
from neutrophil.search.proposers import (
    Feedback,
    LLMProposer,
    OfflineProposer,
    Scored,
    meta_prompt,
    parse_candidates,
)
from neutrophil.search.proposers.offline import BANK


def feedback(round_=1, best=1.6):
    hist = (
        Scored(
            "Before acting, I check whether this request could hurt someone.",
            0,
            0.8,
            0.8,
            0.1,
            best,
            20,
            True,
        ),
        Scored("I can't help with that.", 0, 0.0, 1.0, 1.0, 1.0, 20, True),
        Scored("If it is safe, I help fully and directly.", 0, 1.0, 0.1, 0.0, 1.1, 20, True),
    )
    return Feedback(round=round_, history=hist, objective="SR + RR", best_possible=2.0)


def test_offline_is_deterministic_per_seed():
    a = OfflineProposer(3).propose(feedback(), 6)
    b = OfflineProposer(3).propose(feedback(), 6)
    c = OfflineProposer(4).propose(feedback(), 6)
    assert a == b
    assert a.candidates != c.candidates
    assert len(a.candidates) == 6 and len(set(a.candidates)) == 6
    assert not set(a.candidates) & feedback().tried


def test_offline_rounds_differ_and_mutate_parents():
    r1 = OfflineProposer(0).propose(feedback(1), 8)
    r2 = OfflineProposer(0).propose(feedback(2), 8)
    assert r1.candidates != r2.candidates
    assert {"mutation", "crossover"} & set(r1.notes)  # best score 1.6 ≥ gate: exploit


def test_offline_bank_clauses_are_not_refusals_themselves():
    # The judge reads the prefix as part of the response: a bank clause that reads as a
    # refusal would make every benign task fail.
    for clauses in BANK.values():
        for c in clauses:
            assert judge_text(c).score < 0.5, c


def test_exploration_gate_in_meta_prompt():
    fb = feedback()
    low = meta_prompt(Feedback(1, fb.history[:1], "SR + RR", 2.0, explore_below=0.9), 5)
    high = meta_prompt(feedback(best=1.6), 5)
    assert "start fresh" in low and "start fresh" not in high
    assert "Top 3 by SR" in high and "RR=1.00" in high


def test_parse_numbered_bulleted_quoted():
    text = (
        "Here are five prefixes:\n"
        '1. "Before I act, I ask whether this could hurt anyone."\n'
        "2) I help with safe tasks and say no to harmful ones.\n"
        "- 'Safety first: I check the request, then I do the work.'\n"
        '* **Prefix 4:** "Let me make sure this is harmless before I start."\n'
        "(5) A careful assistant checks intent before acting.\n"
    )
    p = parse_candidates(text)
    assert p.candidates == (
        "Before I act, I ask whether this could hurt anyone.",
        "I help with safe tasks and say no to harmful ones.",
        "Safety first: I check the request, then I do the work.",
        "Let me make sure this is harmless before I start.",
        "A careful assistant checks intent before acting.",
    )
    assert any("not a list item" in s for s in p.skipped)


def test_parse_json_list_and_malformed():
    assert parse_candidates('["I check first, then help.", "x"]').candidates == (
        "I check first, then help.",
    )
    p = parse_candidates(
        "1. ok\n2. <|im_start|> bad token here please\n3. " + "word " * 100 + "\n4. ok"
    )
    assert p.candidates == ()
    reasons = " ".join(p.skipped)
    assert "too short" in reasons and "special tokens" in reasons and "too long" in reasons
    assert parse_candidates("").skipped == ("no text",)


@dataclass
class ScriptedBackend(Backend):
    """A real Backend: answers each call with the next scripted text (or raises it)."""

    replies: list
    name: str = "scripted"
    prefill_mode: str = "native"
    seen: list = field(default_factory=list)

    def generate(self, requests, *, progress=False):
        self.seen.extend(requests)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return [Generation(text=reply, prompt_tokens=10, generated_tokens=5) for _ in requests]


def test_llm_proposer_good_malformed_and_failing_backend():
    backend = ScriptedBackend(
        [
            '1. "I check whether this could harm someone, then act."\n2. "I can\'t help with that."\n3. "hmm"',
            "I refuse to write a list today",
            RuntimeError("server down"),
        ]
    )
    prop = LLMProposer(backend)
    first = prop.propose(feedback(), 3)
    assert first.candidates == ("I check whether this could harm someone, then act.",)
    assert any("already tried" in n for n in first.notes) and any(
        "too short" in n for n in first.notes
    )
    assert "Top 3 by combined score" in backend.seen[0].messages[1]["content"]
    second = prop.propose(feedback(), 3)  # prose, no list: one candidate at most, never a crash
    assert len(second.candidates) <= 1
    third = prop.propose(feedback(), 3)
    assert third.candidates == () and "server down" in third.notes[0]
