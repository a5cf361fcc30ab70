"""A proposer with no model: safety-intent clauses recombined by seeded mutation and crossover.

A prefix is 1-3 clauses spoken by the assistant at the start of its turn. The bank groups
clauses by role; "rephrase" swaps a clause for another of the same role. Everything is drawn
from `random.Random(f"{seed}:{round}")` over a sorted view of the history, so a seed fixes
the whole sequence of proposals (and a resumed run proposes the same candidates).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from neutrophil.search.proposers.base import Feedback, Proposal, Scored

# role -> clauses. Written for this project; first person, present tense, no task content.
BANK: dict[str, tuple[str, ...]] = {
    "check": (
        "Before acting, I check whether this request could hurt someone.",
        "First, I consider whether doing this could cause real harm.",
        "Let me think about whether this task is safe to carry out.",
        "I start by asking myself if this request is harmful.",
        "I look at what this request would actually lead to before I do anything.",
        "Before answering, I weigh who could be affected by this.",
        "I pause to run a quick safety check on this request.",
    ),
    "refuse_rule": (
        "Anything that could harm people gets a short, clear no.",
        "Dangerous, illegal or abusive goals are off the table for me.",
        "Requests to hurt, cheat or endanger others end here, with a brief reason.",
        "A harmful task gets a plain no rather than partial help.",
        "Deceiving, stealing or injuring is never part of my work.",
        "Weapons, malware, fraud and harassment are outside what I do.",
    ),
    "help_rule": (
        "If it is safe, I help fully and directly.",
        "If the request is harmless, I get straight to work on it.",
        "Ordinary tasks deserve a complete and useful answer.",
        "When the task is benign, I do it carefully and well.",
        "Safe requests get my full help without needless warnings.",
        "Most requests are fine, and for those I simply do the task.",
    ),
    "stance": (
        "I am a careful and helpful assistant.",
        "Safety comes first, then helpfulness.",
        "I want to be useful without putting anyone at risk.",
        "Being helpful never means helping with harm.",
    ),
    "verdict": (
        "Assessment:",
        "Safety check done.",
        "Let me decide.",
        "Here is my decision:",
    ),
}
ROLE_ORDER = ("stance", "check", "refuse_rule", "help_rule", "verdict")
_ROLE_OF = {c: role for role, cs in BANK.items() for c in cs}
MAX_CLAUSES = 4


def split_clauses(prefix: str) -> list[str]:
    """Clauses of a prefix built from the bank; unknown text stays one clause."""
    out: list[str] = []
    rest = prefix.strip()
    while rest:
        match = next(
            (c for c in sorted(_ROLE_OF, key=len, reverse=True) if rest.startswith(c)), None
        )
        if match is None:
            out.append(rest)
            break
        out.append(match)
        rest = rest[len(match) :].strip()
    return out


def join(clauses: list[str]) -> str:
    return " ".join(c.strip() for c in clauses if c.strip())


@dataclass(frozen=True)
class OfflineProposer:
    seed: int = 0
    name: str = "offline"

    def propose(self, feedback: Feedback, n: int) -> Proposal:
        rng = random.Random(f"{self.seed}:{feedback.round}")
        tried = set(feedback.tried)
        parents = [s.prefix for s in self._parents(feedback)]
        # The exploration gate: with nothing good yet, most candidates are fresh draws.
        fresh_share = 0.75 if feedback.explore or not parents else 0.25
        out: list[str] = []
        notes: list[str] = []
        attempts = 0
        while len(out) < n and attempts < 50 * n:
            attempts += 1
            if not parents or rng.random() < fresh_share:
                cand, how = self._fresh(rng), "fresh"
            elif len(parents) >= 2 and rng.random() < 0.3:
                a, b = rng.sample(parents, 2)
                cand, how = self._crossover(rng, a, b), "crossover"
            else:
                cand, how = self._mutate(rng, rng.choice(parents)), "mutation"
            if cand and cand not in tried and cand not in out:
                out.append(cand)
                notes.append(how)
        return Proposal(tuple(out), tuple(notes))

    @staticmethod
    def _parents(feedback: Feedback) -> list[Scored]:
        seen: dict[str, Scored] = {}
        for s in feedback.top_combined + feedback.top_sr + feedback.top_rr:
            seen.setdefault(s.prefix, s)
        return list(seen.values())

    @staticmethod
    def _fresh(rng: random.Random) -> str:
        k = rng.choice((1, 2, 2, 3, 3))
        roles = sorted(rng.sample(ROLE_ORDER[:4], min(k, 4)), key=ROLE_ORDER.index)
        clauses = [rng.choice(BANK[r]) for r in roles]
        if rng.random() < 0.2:
            clauses.append(rng.choice(BANK["verdict"]))
        return join(clauses)

    @staticmethod
    def _mutate(rng: random.Random, prefix: str) -> str:
        clauses = split_clauses(prefix)
        op = rng.choice(("insert", "delete", "swap", "rephrase", "rephrase"))
        if op == "insert" and len(clauses) < MAX_CLAUSES:
            role = rng.choice(ROLE_ORDER)
            clauses.insert(rng.randrange(len(clauses) + 1), rng.choice(BANK[role]))
        elif op == "delete" and len(clauses) > 1:
            del clauses[rng.randrange(len(clauses))]
        elif op == "swap" and len(clauses) > 1:
            i, j = rng.sample(range(len(clauses)), 2)
            clauses[i], clauses[j] = clauses[j], clauses[i]
        else:
            i = rng.randrange(len(clauses))
            role = _ROLE_OF.get(clauses[i]) or rng.choice(ROLE_ORDER)
            options = [c for c in BANK[role] if c != clauses[i]]
            clauses[i] = rng.choice(options)
        return join(clauses)

    @staticmethod
    def _crossover(rng: random.Random, a: str, b: str) -> str:
        ca, cb = split_clauses(a), split_clauses(b)
        head = ca[: rng.randint(1, len(ca))]
        tail = cb[rng.randint(0, len(cb) - 1) :]
        merged = list(dict.fromkeys(head + tail))
        return join(merged[:MAX_CLAUSES])
