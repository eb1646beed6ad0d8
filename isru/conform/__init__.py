"""``isru conform``: the host side of every ICD rule, run against one board on a port."""

from isru.conform.kit import run
from isru.conform.report import Outcome, Report
from isru.conform.rules import RULES, Rule, rules_for

__all__ = ["RULES", "Outcome", "Report", "Rule", "rules_for", "run"]
