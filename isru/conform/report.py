"""What one run of the kit found: an outcome per rule, and the table it prints."""

from __future__ import annotations

from dataclasses import dataclass

from isru.conform.rules import Rule


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the kit found for one rule."""

    rule: Rule
    passed: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Report:
    """The result of one run against one board."""

    board: str
    url: str
    identity: str
    outcomes: tuple[Outcome, ...]

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)

    @property
    def failed(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if not o.passed)

    def outcome(self, rule_id: str) -> Outcome:
        for outcome in self.outcomes:
            if outcome.rule.id == rule_id:
                return outcome
        raise KeyError(rule_id)

    def table(self) -> str:
        """The pass/fail table, one rule a line, as the kit prints it."""
        width = max(len(o.rule.id) for o in self.outcomes)
        lines = [
            f"isru conform: {self.board} board at {self.url}",
            self.identity,
            "",
            f"{'result':<6}  {'rule':<{width}}  {'ICD':<5}  requirement / measured",
        ]
        for o in self.outcomes:
            mark = "PASS" if o.passed else "FAIL"
            lines.append(f"{mark:<6}  {o.rule.id:<{width}}  {o.rule.section:<5}  {o.rule.text}")
            lines.append(f"{'':<6}  {'':<{width}}  {'':<5}  -> {o.detail}")
        total, failed = len(self.outcomes), len(self.failed)
        lines += [
            "",
            f"{total} rule{'' if total == 1 else 's'}: {total - failed} pass, {failed} fail",
        ]
        return "\n".join(lines) + "\n"
