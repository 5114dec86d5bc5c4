"""The referral state machine: the one table of allowed transitions.

Each row says from which state to which, which side may make the move, and which fields the
move needs. Operations consult it; nothing else decides whether a transition is allowed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from directory.referrals.models import ReferralStatus as S


class Side(enum.StrEnum):
    SENDER = "sender"
    RECEIVER = "receiver"
    SYSTEM = "system"  # `directory sweep`, never a person


@dataclass(frozen=True)
class Transition:
    source: S
    target: S
    sides: frozenset[Side]
    required: tuple[str, ...] = ()


def _t(source: S, target: S, *sides: Side, required: tuple[str, ...] = ()) -> Transition:
    return Transition(source, target, frozenset(sides), required)


TRANSITIONS: tuple[Transition, ...] = (
    _t(S.DRAFT, S.SENT, Side.SENDER, required=("consent",)),
    _t(S.DRAFT, S.WITHDRAWN, Side.SENDER),
    _t(S.SENT, S.ACCEPTED, Side.RECEIVER),
    _t(S.SENT, S.DECLINED, Side.RECEIVER, required=("reason", "note")),
    # The system withdraws the other partners' copies of a placement request once one accepts.
    _t(S.SENT, S.WITHDRAWN, Side.SENDER, Side.SYSTEM),
    _t(S.SENT, S.EXPIRED, Side.SYSTEM),
    _t(S.ACCEPTED, S.COMPLETED, Side.RECEIVER, required=("note",)),
    _t(S.ACCEPTED, S.CLOSED, Side.RECEIVER, Side.SENDER, required=("outcome",)),
    _t(S.ACCEPTED, S.WITHDRAWN, Side.SENDER),
)

_BY_STATES = {(t.source, t.target): t for t in TRANSITIONS}


def find(source: S, target: S) -> Transition | None:
    return _BY_STATES.get((source, target))


def allowed_targets(source: S, side: Side | None) -> list[S]:
    """The moves ``side`` may make from ``source``: the page offers only these."""
    if side is None:
        return []
    return [t.target for t in TRANSITIONS if t.source == source and side in t.sides]
