"""The text the agent reads: the system prompt and the per-step user turn."""

from __future__ import annotations

WEB_SYSTEM_PROMPT = (
    "You are a web agent using a browser for the user. Each turn you see the goal and the "
    "current page; elements have ids like [3]. Reply with exactly one action on the first line:\n"
    "click [id]\n"
    'type [id] "text"\n'
    "goto URL\n"
    'stop "message" (when the goal is done, to answer, or to decline)'
)
ACTION_REMINDER = 'Reply with one action on the first line: click [id], type [id] "text", goto URL, or stop "message".'
HISTORY_SHOWN = 4


def user_prompt(goal: str, history: list[str], page: str, error: str | None = None) -> str:
    recent = [
        h.strip().splitlines()[0] if h.strip() else "(empty)" for h in history[-HISTORY_SHOWN:]
    ]
    lines = [f"Goal: {goal}", "Previous actions: " + ("; ".join(recent) if recent else "none")]
    if error:
        lines.append(f"Last action failed: {error}")
    lines += ["Page:", page, ACTION_REMINDER]
    return "\n".join(lines)
