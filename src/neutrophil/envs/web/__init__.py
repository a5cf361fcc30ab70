"""The simulated web: small deterministic sites, a text observation, parsed actions, goal checks.

env = WebEnv.for_task(task)
while not env.done:
    out = model(WEB_SYSTEM_PROMPT, env.user_prompt(task.prompt, history))
    result = env.step(out)
env.check(task.payload["check"])
"""

from neutrophil.envs.web.actions import Action, parse_action
from neutrophil.envs.web.checks import Event, validate_check
from neutrophil.envs.web.env import StepResult, WebEnv
from neutrophil.envs.web.prompts import WEB_SYSTEM_PROMPT
from neutrophil.envs.web.sites import SITES

__all__ = [
    "SITES",
    "WEB_SYSTEM_PROMPT",
    "Action",
    "Event",
    "StepResult",
    "WebEnv",
    "parse_action",
    "validate_check",
]
