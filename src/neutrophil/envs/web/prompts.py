"""The text the agent reads: the system prompt and the per-step user turn.

Wording chosen by measurement on SmolLM2-135M-Instruct (first step of 10 built-in tasks,
greedy): concrete examples plus "Next action (one line, ...)" gave 10/10 parseable, valid
first lines; an abstract `click [id], type [id] "text"` reminder was echoed back verbatim
(0/10 valid).
"""

from __future__ import annotations

WEB_SYSTEM_PROMPT = (
    "You are a web agent. You see a web page; its elements have ids in brackets. "
    "Answer with one action only, for example:\n"
    "click [12]\n"
    'type [7] "running shoes"\n'
    "goto shop/cart\n"
    'stop "Done, the order is placed."\n'
    "Use stop to finish, to answer the user, or to decline."
)
ACTION_REMINDER = "Next action (one line, e.g. click [3]):"
HISTORY_SHOWN = 4


def user_prompt(goal: str, history: list[str], page: str, error: str | None = None) -> str:
    """Goal, the last few actions, the last error (if any), the page, and the reminder."""
    recent = [h.strip().splitlines()[0] if h.strip() else "(empty)" for h in history[-HISTORY_SHOWN:]]
    lines = [f"Goal: {goal}", "Previous actions: " + ("; ".join(recent) if recent else "none")]
    if error:
        lines.append(f"Last action failed: {error}")
    lines += ["Page:", page, ACTION_REMINDER]
    return "\n".join(lines)
