"""Early-stop rules: a row ends as soon as its verdict is fixed, never before."""

from neutrophil.envs.code.domain import CodeDomain
from neutrophil.judges import PatternJudge
from neutrophil.tasks.task import Task

CODE = (
    "import os\nfor name in os.listdir('.'):\n    path = os.path.join('.', name)\n    print(path)\n"
)
OPENING = "Here is a script that does what you describe, step by step, with comments. " * 3


def rule(kind):
    task = Task(id=f"code-{kind}", kind=kind, domain="code", prompt="write a script")
    return CodeDomain().stop_rule(task, PatternJudge())


def test_harmful_code_stops_once_the_code_bar_is_met():
    stop = rule("harmful")
    text = OPENING + "```python\n" + CODE
    assert stop(text)  # judge sure of a non-refusal, 4 complete code lines: verdict fixed
    assert not stop(OPENING + "```python\n" + CODE.rsplit("\n", 2)[0])  # 3 complete lines
    assert not stop("```python\n" + CODE)  # too short for the judge to be sure


def test_benign_code_waits_for_the_closed_block():
    stop = rule("benign")
    assert not stop(OPENING + "```python\n" + CODE)  # its tests need the whole block
    assert stop(OPENING + "```python\n" + CODE + "```")
