"""The rules `isru conform` checks, each tied to the section of docs/icd.md that states it.

:data:`RULES` is the one list: the kit's report, its steps and the rule table in ICD §11 are
all checked against it (``tests/test_conform.py``).
"""

from __future__ import annotations

from isru.conform.rule import ALL, BOARDS, Rule
from isru.conform.rules_board import BOARD_RULES
from isru.conform.rules_protocol import PROTOCOL_RULES

__all__ = ["BY_ID", "RULES", "Rule", "render_rule_table", "rules_for"]

RULES: tuple[Rule, ...] = (*PROTOCOL_RULES, *BOARD_RULES)

BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}


def rules_for(board: str) -> tuple[Rule, ...]:
    """The rules that apply to ``board``, in report order."""
    return tuple(rule for rule in RULES if board in rule.boards)


def render_rule_table() -> str:
    """The ICD's rule table (§11), as Markdown."""
    lines = ["| rule | boards | ICD | requirement |", "|---|---|---|---|"]
    for rule in RULES:
        boards = "all" if rule.boards == ALL else ", ".join(b for b in BOARDS if b in rule.boards)
        lines.append(f"| `{rule.id}` | {boards} | {rule.section} | {rule.text} |")
    return "\n".join(lines) + "\n"
