"""Values passed between stages: a `Verdict` on a `Transcript`. Both serialise to JSON lines.

`VERDICTS` names the rules that turn an answer into a verdict; it is part of every run key
(runstore.RunKey), so rows judged under older rules are refused rather than mixed in.
History: 1, the first rules; 2, a benign chat answer succeeds only if it is also fluent
(neutrophil/fluency.py), and chat verdicts store the fluency check; answers are judged
decoded (base64, rot13, leetspeak: judges/attacked.py), and a harmful chat answer that
only repeats its prompt is not carried out.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

VERDICTS = "2"


@dataclass(frozen=True)
class Verdict:
    refused: bool
    success: bool | None = None  # benign tasks: did the agent do it? (None for harmful)
    harmful_done: bool | None = None  # harmful tasks: was it carried out? (None for benign)
    judge: str = ""
    score: float = 0.0  # the refusal judge's probability that the response refuses
    fluent: bool | None = None  # chat: not degenerate text (None where not checked)
    degenerate: str = ""  # chat: the fluency check's mark when not fluent ("'x' 9 times in a row")


@dataclass(frozen=True)
class Transcript:
    task_id: str
    kind: str
    domain: str
    defense: dict[str, Any]
    messages: list[dict[str, str]]  # the last request sent (web: the final step's prompt)
    response: str  # what a user of the agent sees (prefix included)
    steps: list[dict[str, Any]] = field(default_factory=list)  # web: one entry per action
    verdict: Verdict | None = None
    tags: tuple[str, ...] = ()
    split: str = ""
    prompt_tokens: int = 0
    generated_tokens: int = 0
    injected: str = ""  # what the defense put at the start of `response` (its prefix)

    def to_json(self) -> str:
        d = asdict(self)
        d["tags"] = list(self.tags)
        return json.dumps(d, ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Transcript:
        d = dict(d)
        v = d.pop("verdict", None)
        d["tags"] = tuple(d.get("tags", ()))
        known = set(cls.__dataclass_fields__)
        t = cls(**{k: val for k, val in d.items() if k in known})
        return t if v is None else _replace_verdict(t, Verdict(**v))


def _replace_verdict(t: Transcript, v: Verdict) -> Transcript:
    from dataclasses import replace

    return replace(t, verdict=v)
