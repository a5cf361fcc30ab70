"""The text the agent reads: the system prompt and the per-step user turn.

Wording and layout chosen by measurement on SmolLM2-135M-Instruct (first step, greedy):
an abstract `click [id], type [id] "text"` reminder was echoed back verbatim (0/10 valid on
shop tasks) while concrete examples gave 10/10; on 20 tasks over all sites, putting the page
first and the goal right before the reminder raised parseable first lines from 3/20 to 10/20
(with the page last the model tends to continue the page text).
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
    """The page, then the goal, the last few actions, the last error (if any), the reminder."""
    recent = [
        h.strip().splitlines()[0] if h.strip() else "(empty)" for h in history[-HISTORY_SHOWN:]
    ]
    lines = ["Page:", page, f"Goal: {goal}"]
    lines.append("Previous actions: " + ("; ".join(recent) if recent else "none"))
    if error:
        lines.append(f"Last action failed: {error}")
    lines.append(ACTION_REMINDER)
    return "\n".join(lines)
