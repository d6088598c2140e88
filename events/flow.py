"""The lifecycle of an event: states, actions, who may take them. Pure Python.

The standard flow of digital urban management (数字化城市管理, GB/T 30428):

    上报 reported → 核实 verified → 立案 registered → 派遣 dispatched
      → 处置 handled → 核查 checked → 结案 closed

with the side paths: 作废 invalid (after verification: not true, not ours),
退回 return (a department hands a dispatch back; an operator sends a
registration back to verification; a failed on-site check sends the work back
to the department), 改派 reassign (to another department), 挂起 suspend and
恢复 resume (the clock stops meanwhile), and 合并 merge (a duplicate closes into
its original, through its own endpoint).

Who may take an action is a set of scopes, any of which suffices; whether the
event lies inside the caller's jurisdiction is checked by the service.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ACTIONS",
    "OPEN_STATES",
    "PATH_TO",
    "STATES",
    "STEPS",
    "STEP_OF_STATE",
    "TERMINAL_STATES",
    "Transition",
    "actions_from",
    "find_transition",
    "states_along",
]

STATES: dict[str, str] = {
    "reported": "已上报",
    "verified": "已核实",
    "registered": "已立案",
    "dispatched": "已派遣",
    "handled": "已处置",
    "checked": "已核查",
    "closed": "已结案",
    "suspended": "已挂起",
    "invalid": "已作废",
    "merged": "已合并",
}
TERMINAL_STATES = frozenset({"closed", "invalid", "merged"})
OPEN_STATES = frozenset(STATES) - TERMINAL_STATES

#: the step an event in a state is waiting for (its time limit is the category's limit of that step)
STEP_OF_STATE: dict[str, str] = {
    "reported": "verify",
    "verified": "register",
    "registered": "dispatch",
    "dispatched": "handle",
    "handled": "check",
    "checked": "close",
}
STEPS: dict[str, str] = {
    "verify": "核实",
    "register": "立案",
    "dispatch": "派遣",
    "handle": "处置",
    "check": "核查",
    "close": "结案",
}

ACTIONS: dict[str, str] = {
    "verify": "核实",
    "register": "立案",
    "invalidate": "作废",
    "dispatch": "派遣",
    "reassign": "改派",
    "handle": "处置",
    "check": "核查",
    "close": "结案",
    "return": "退回",
    "suspend": "挂起",
    "resume": "恢复",
    "merge": "合并",
}

MANAGE = frozenset({"events:manage"})
VERIFY = frozenset({"events:verify"})
HANDLE = frozenset({"events:handle"})
RESUME = "<previous>"  # the state an event was suspended in


@dataclass(frozen=True)
class Transition:
    action: str
    source: str
    target: str  # RESUME: back to the state before suspension
    scopes: frozenset[str]  # any one of them
    needs_department: bool = False


_SUSPENDABLE = ("verified", "registered", "dispatched", "handled")

TRANSITIONS: tuple[Transition, ...] = (
    Transition("verify", "reported", "verified", VERIFY),
    Transition("register", "verified", "registered", MANAGE),
    Transition("invalidate", "verified", "invalid", MANAGE),
    Transition("return", "verified", "reported", MANAGE),  # 退回重新核实
    Transition("dispatch", "registered", "dispatched", MANAGE, needs_department=True),
    Transition("reassign", "dispatched", "dispatched", MANAGE, needs_department=True),
    Transition("return", "dispatched", "registered", HANDLE | MANAGE),  # 部门退回 / 撤回
    Transition("handle", "dispatched", "handled", HANDLE),
    Transition("check", "handled", "checked", VERIFY),
    Transition("return", "handled", "dispatched", VERIFY | MANAGE),  # 核查未通过，返工
    Transition("close", "checked", "closed", MANAGE),
    *(Transition("suspend", s, "suspended", MANAGE) for s in _SUSPENDABLE),
    Transition("resume", "suspended", RESUME, MANAGE),
    *(Transition("merge", s, "merged", MANAGE) for s in sorted(OPEN_STATES)),
)
_BY_KEY = {(t.source, t.action): t for t in TRANSITIONS}
_ORDER = {name: i for i, name in enumerate(ACTIONS)}


def find_transition(state: str, action: str) -> Transition | None:
    return _BY_KEY.get((state, action))


#: the actions that take a new report to each state the plain way (merged: through merge)
PATH_TO: dict[str, tuple[str, ...]] = {
    "reported": (),
    "verified": ("verify",),
    "registered": ("verify", "register"),
    "dispatched": ("verify", "register", "dispatch"),
    "handled": ("verify", "register", "dispatch", "handle"),
    "checked": ("verify", "register", "dispatch", "handle", "check"),
    "closed": ("verify", "register", "dispatch", "handle", "check", "close"),
    "suspended": ("verify", "register", "dispatch", "suspend"),
    "invalid": ("verify", "invalidate"),
    "merged": ("merge",),
}


def states_along(actions: tuple[str, ...], start: str = "reported") -> list[str]:
    """The states an event passes through taking ``actions`` from ``start`` (``start`` first)."""
    states = [start]
    for action in actions:
        step = find_transition(states[-1], action)
        if step is None:
            raise ValueError(f"{action} is not possible from {states[-1]}")
        states.append(states[-2] if step.target == RESUME else step.target)
    return states


def actions_from(state: str, scopes: frozenset[str] | None = None) -> list[str]:
    """Actions possible from ``state`` (for a caller holding ``scopes``, if given), in flow order."""
    found = {t.action for t in TRANSITIONS if t.source == state and (scopes is None or t.scopes & scopes)}
    return sorted(found, key=_ORDER.__getitem__)
