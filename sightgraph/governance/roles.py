"""Access roles (DESIGN §8): who may run what.

Three roles, each allowed everything the one before it may do:

- ``viewer``: aggregates only (counts, camera flows, data quality, audit verification);
- ``analyst``: plus person-level queries (trajectory, meetings, contacts, ego networks, ...),
  each with a stated purpose that goes into the audit log;
- ``admin``: plus erasure (``forget``), retention, reading the audit log's entries, and the data
  pipeline: ``generate``, ``ingest`` and ``load`` (what goes into the lake and the graph).

Actions are named the way the CLI and the dashboard name them (``"trajectory"``, ``"forget"``,
``"camera-flows"``); spaces and underscores count as dashes and case is ignored. An action this
module does not know is treated as a person-level query, so a new query is never open to viewers
by accident. Which CLI command is which action, and which need a purpose and an audit entry, is
:data:`sightgraph.governance.access.COMMANDS`.

Examples
--------
>>> require("analyst", "trajectory")
'analyst'
>>> allowed("viewer", "camera-flows")
True
>>> allowed("viewer", "trajectory")
False
"""

from __future__ import annotations

from dataclasses import dataclass

from sightgraph.errors import UsageError

__all__ = [
    "Action",
    "ADMIN_ACTIONS",
    "AGGREGATE_ACTIONS",
    "ROLES",
    "allowed",
    "describe_action",
    "normalize_role",
    "require",
    "required_role",
]

ROLES = ("viewer", "analyst", "admin")
"""Roles from least to most privileged."""

_RANK = {name: i for i, name in enumerate(ROLES)}

AGGREGATE_ACTIONS = frozenset(
    {
        "aggregate",
        "aggregates",
        "overview",
        "counts",
        "data-quality",
        "quarantine-summary",
        "camera-flows",
        "flows",
        "transitions",
        "cameras",
        "audit-verify",
        "audit-head",
        "prediction-evaluation",
        "dashboard",  # opening it: each page then checks the session's role itself
    }
)
"""Actions a viewer may run: results about many subjects at once (small cells suppressed)."""

ADMIN_ACTIONS: dict[str, str] = {
    "forget": "forget (erase) a subject",
    "erase": "forget (erase) a subject",
    "retention": "apply retention",
    "retention-apply": "apply retention",
    "audit-read": "read the audit log's entries",
    "manage-users": "manage users",
    "generate": "generate data for the lake",
    "ingest": "ingest sightings into the lake",
    "load": "load the lake into the graph store",
    "keys-rotate": "rotate the pseudonym key",
}
"""Actions only an admin may run, with the phrase used in refusals."""


@dataclass(frozen=True)
class Action:
    """A classified action: normalized name, least role allowed, refusal phrase."""

    name: str
    min_role: str
    phrase: str


def _normalize_action(action: str) -> str:
    if not isinstance(action, str) or not action.strip():
        raise UsageError(f"action must be a non-empty name, got {action!r}")
    return "-".join(action.strip().lower().replace("_", " ").replace("-", " ").split())


def describe_action(action: str) -> Action:
    """Classify an action: its normalized name, the least role allowed, the refusal phrase.

    Parameters
    ----------
    action : str
        An action or query name (``"trajectory"``, ``"forget"``, ``"camera flows"``).

    Returns
    -------
    Action
        ``name`` (normalized), ``min_role`` (one of :data:`ROLES`) and ``phrase`` (what the role
        "may not" do, used in refusals).
    """
    name = _normalize_action(action)
    if name in ADMIN_ACTIONS:
        return Action(name, "admin", ADMIN_ACTIONS[name])
    if name in AGGREGATE_ACTIONS:
        return Action(name, "viewer", f"view aggregate {name}")
    return Action(name, "analyst", f"run person-level query {name}")


def normalize_role(role: str) -> str:
    """Return the canonical role name (case and surrounding space ignored).

    Raises
    ------
    UsageError
        If ``role`` is not one of :data:`ROLES`.
    """
    if not isinstance(role, str) or role.strip().lower() not in _RANK:
        raise UsageError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    return role.strip().lower()


def required_role(action: str) -> str:
    """The least privileged role that may run ``action``."""
    return describe_action(action).min_role


def allowed(role: str, action: str) -> bool:
    """Whether ``role`` may run ``action`` (unknown role -> UsageError, never False)."""
    return _RANK[normalize_role(role)] >= _RANK[describe_action(action).min_role]


def require(role: str, action: str) -> str:
    """Refuse unless ``role`` may run ``action``; return the canonical role name.

    Parameters
    ----------
    role : {'viewer', 'analyst', 'admin'}
        The caller's role (case-insensitive).
    action : str
        Action or query name, e.g. ``"trajectory"``, ``"forget"``, ``"retention"``,
        ``"camera-flows"``. Unknown names count as person-level queries.

    Returns
    -------
    str
        The canonical role name.

    Raises
    ------
    UsageError
        ``"role viewer may not run person-level query trajectory; ask an analyst"``, or naming the
        unknown role.

    Examples
    --------
    >>> require("viewer", "trajectory")
    Traceback (most recent call last):
    ...
    sightgraph.errors.UsageError: role viewer may not run person-level query trajectory; ask an analyst
    """
    canonical = normalize_role(role)
    act = describe_action(action)
    if _RANK[canonical] < _RANK[act.min_role]:
        raise UsageError(f"role {canonical} may not {act.phrase}; ask an {act.min_role}")
    return canonical
