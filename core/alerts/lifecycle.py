"""Alert lifecycle decisions: open, count a repeat, auto-resolve, escalate — pure, so they can be tested alone.

An alert is open → acknowledged (a person saw it) → resolved (by a person, or by itself when the condition
clears and the rule says `auto_resolve`). There is at most one unresolved alert per (rule, subject): a repeat of
an event-driven condition counts on it; a continuing level-triggered condition changes nothing. An alert still
*open* (not acknowledged) `escalate_after_s` after it opened is escalated once.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from core.alerts.evaluate import Condition, PeriodicOutcome
from core.alerts.rules import Rule


class Action(StrEnum):
    OPEN = "open"
    REPEAT = "repeat"
    RESOLVE = "resolve"
    ESCALATE = "escalate"


@dataclass(frozen=True, slots=True)
class OpenAlert:
    """The parts of an unresolved alert the decisions need."""

    id: str
    rule_id: str
    subject_key: str
    status: str  # open | acknowledged
    opened_at: datetime.datetime
    site_id: str | None = None
    escalated_at: datetime.datetime | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    rule: Rule
    condition: Condition | None = None  # what raised / cleared it
    alert: OpenAlert | None = None  # the existing alert acted on (None for OPEN)


def decide_event(condition: Condition, existing: OpenAlert | None) -> Decision | None:
    """Edge-triggered: an occurrence opens or counts on the alert; a clearing event resolves it (if allowed)."""
    if condition.active:
        if existing is None:
            return Decision(Action.OPEN, condition.rule, condition)
        if condition.repeat:
            return Decision(Action.REPEAT, condition.rule, condition, existing)
        return None
    if existing is not None and condition.rule.auto_resolve:
        return Decision(Action.RESOLVE, condition.rule, condition, existing)
    return None


def reconcile(rule: Rule, outcome: PeriodicOutcome, existing: Mapping[str, OpenAlert]) -> list[Decision]:
    """Level-triggered: open alerts for new subjects, resolve those whose subject no longer qualifies.
    `existing` maps subject_key -> unresolved alert of this rule."""
    decisions: list[Decision] = []
    holding = {condition.subject_key: condition for condition in outcome.conditions}
    for key, condition in holding.items():
        if key not in existing:
            decisions.append(Decision(Action.OPEN, rule, condition))
    if rule.auto_resolve:
        for key, alert in existing.items():
            if key not in holding and (alert.site_id or "") not in outcome.paused_sites:
                decisions.append(Decision(Action.RESOLVE, rule, None, alert))
    return decisions


def escalations(
    rules: Mapping[str, Rule], alerts: Iterable[OpenAlert], now: datetime.datetime
) -> list[Decision]:
    """Alerts nobody acknowledged within their rule's `escalate_after_s`, not escalated before."""
    out: list[Decision] = []
    for alert in alerts:
        rule = rules.get(alert.rule_id)
        if rule is None or rule.escalate_after_s is None:
            continue
        if alert.status != "open" or alert.escalated_at is not None:
            continue
        if (now - alert.opened_at).total_seconds() >= rule.escalate_after_s:
            out.append(Decision(Action.ESCALATE, rule, None, alert))
    return out
