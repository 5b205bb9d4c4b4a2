"""One access gate for the command line (DESIGN §8, §9): who may run a command, why, and the record.

Every CLI command is classified in :data:`COMMANDS`: the action it is for :mod:`roles` (hence the
least role that may run it), whether it needs a purpose, and whether a run appends an audit entry.
:func:`gate` is called first thing in each command, before any file is read or written: it checks
the role, then the purpose, then that the audit log can take an entry, and returns a
:class:`Session`; the command runs and then calls :meth:`Session.audit` with its row count.

===================  ========  =======  =======  ==========================================
command              role      purpose  audited  why
===================  ========  =======  =======  ==========================================
generate             admin     -        -        writes input data (the data pipeline)
ingest               admin     -        -        writes the lake
load                 admin     -        -        writes the graph store
colocate             analyst   yes      rows     per-pair table
contacts             analyst   yes      rows     per-pair table
trajectories         analyst   yes      rows     per-subject visits (flows: suppressed)
predict              analyst   yes      rows     per-subject next cameras
predict --evaluate   viewer    -        -        aggregate accuracy only
trajectory           analyst   yes      rows     one subject's sightings
forget               admin     yes [1]  rows     erasure
retention apply      admin     yes [1]  rows     deletes old data everywhere
audit head / verify  viewer    -        -        hashes and counts, no entries
demo                 analyst   own [2]  rows     synthetic city in its own workdir
dashboard            viewer    -        -        each page checks its own session (login)
===================  ========  =======  =======  ==========================================

[1] ``forget`` falls back to "erasure request" and ``retention apply`` to "retention policy".
[2] the demo states "demo on synthetic data" and logs into ``WORKDIR/audit.jsonl`` of the demo.

The purpose is the ``--purpose`` option when given (an explicit blank one is refused, never
replaced), else ``SIGHTGRAPH_PURPOSE``, else the command's own default if it has one; else the
command is refused. The role comes from the settings (``SIGHTGRAPH_ROLE``, default ``analyst``).
Refusals are :class:`~sightgraph.errors.UsageError` (one line, exit 2 on the CLI).

Examples
--------
>>> from types import SimpleNamespace
>>> s = SimpleNamespace(user="ana", role="viewer", purpose=None, audit_path=lambda: None)
>>> gate(s, "predict --evaluate").role
'viewer'
>>> gate(s, "contacts", "case 7")
Traceback (most recent call last):
...
sightgraph.errors.UsageError: role viewer may not run person-level query contacts; ask an analyst
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sightgraph.errors import SightgraphError, UsageError
from sightgraph.governance.roles import require, required_role

__all__ = [
    "COMMANDS",
    "PURPOSE_ENV",
    "Rule",
    "Session",
    "gate",
    "query_gate",
    "resolve_purpose",
]

PURPOSE_ENV = "SIGHTGRAPH_PURPOSE"


@dataclass(frozen=True)
class Rule:
    """How one command is governed.

    Attributes
    ----------
    command : str
        The command as typed (``"retention apply"``, ``"predict --evaluate"``).
    action : str
        Its action name for :func:`sightgraph.governance.roles.require`.
    purpose : bool
        Whether it needs a purpose.
    audited : bool
        Whether a run appends one audit entry (with its row count) after it ran.
    default_purpose : str or None
        The purpose used when neither ``--purpose`` nor ``SIGHTGRAPH_PURPOSE`` gives one.
    """

    command: str
    action: str
    purpose: bool = False
    audited: bool = False
    default_purpose: str | None = None

    @property
    def min_role(self) -> str:
        """The least role that may run the command."""
        return required_role(self.action)


def _person_level(command: str, default: str | None = None) -> Rule:
    return Rule(command, command, purpose=True, audited=True, default_purpose=default)


COMMANDS: dict[str, Rule] = {
    r.command: r
    for r in (
        Rule("generate", "generate"),
        Rule("ingest", "ingest"),
        Rule("load", "load"),
        _person_level("colocate"),
        _person_level("contacts"),
        _person_level("trajectories"),
        _person_level("predict"),
        Rule("predict --evaluate", "prediction-evaluation"),
        _person_level("trajectory"),
        Rule("forget", "forget", True, True, "erasure request"),
        Rule("retention apply", "retention-apply", True, True, "retention policy"),
        Rule("keys rotate", "keys-rotate", True, True, "key rotation"),
        Rule("audit head", "audit-head"),
        Rule("audit verify", "audit-verify"),
        Rule("demo", "demo", True, True, "demo on synthetic data"),
        Rule("dashboard", "dashboard"),
        Rule("users add", "manage-users"),
    )
}
"""Every CLI command and how it is governed (``tests/governance/test_access.py`` drives it)."""


@dataclass(frozen=True)
class Session:
    """Who runs a command, in which role, why; where its audit entry goes (None: not audited)."""

    user: str
    role: str
    purpose: str | None
    command: str
    audit_log: Path | None = None

    def audit(self, params: Mapping[str, Any], rows: int, query: str | None = None) -> Any:
        """Append one entry for a run that finished (no-op for commands that are not audited).

        ``query`` defaults to the command; the demo names its steps (``"contacts"``, ...).
        Returns the entry written, or None.
        """
        if self.audit_log is None:
            return None
        from sightgraph.governance.audit import AuditLog

        return AuditLog(self.audit_log).append(
            user=self.user,
            role=self.role,
            purpose=self.purpose or "",
            query=query or self.command,
            params=dict(params),
            rows=int(rows),
        )


def _rule(command: str) -> Rule:
    try:
        return COMMANDS[command]
    except KeyError:
        raise SightgraphError(
            f"access: command {command!r} is not classified in governance/access.py"
        ) from None


def resolve_purpose(
    command: str, option: str | None, settings_purpose: str | None = None
) -> str | None:
    """The purpose a command runs with: ``--purpose``, else SIGHTGRAPH_PURPOSE, else its default.

    An explicit blank ``--purpose`` is refused; a command that needs no purpose gets None (or the
    option, when one was given). Missing where needed -> UsageError.
    """
    rule = _rule(command)
    if option is not None:
        if not isinstance(option, str) or not option.strip():
            raise UsageError(
                f"{command}: --purpose is empty; say why you run it (it is recorded in the audit log)"
            )
        return option.strip()
    if not rule.purpose:
        return None
    env = settings_purpose if settings_purpose is not None else os.environ.get(PURPOSE_ENV)
    if env is not None and env.strip():
        return env.strip()
    if rule.default_purpose:
        return rule.default_purpose
    raise UsageError(
        f"{command}: needs a purpose (--purpose or {PURPOSE_ENV}); it is recorded in the audit log"
    )


def gate(
    settings: Any,
    command: str,
    purpose: str | None = None,
    *,
    audit_log: str | os.PathLike[str] | None = None,
) -> Session:
    """Check role, purpose and the audit log before ``command`` runs; return its :class:`Session`.

    Parameters
    ----------
    settings : sightgraph.config.Settings
        ``user``, ``role``, ``purpose`` (SIGHTGRAPH_PURPOSE) and ``audit_path()`` are used.
    command : str
        A key of :data:`COMMANDS`.
    purpose : str, optional
        The ``--purpose`` option as given (None when it was not).
    audit_log : path, optional
        Log here instead of ``settings.audit_path()`` (the demo logs into its own workdir).

    Raises
    ------
    UsageError
        The role may not run the command, the purpose is missing or blank, the user name is
        blank, or the audit log's last line is damaged (an entry could not be appended after).
    """
    rule = _rule(command)
    role = require(settings.role, rule.action)
    why = resolve_purpose(command, purpose, getattr(settings, "purpose", None))
    user = settings.user
    if not isinstance(user, str) or not user.strip():
        raise UsageError(f"{command}: SIGHTGRAPH_USER must be a non-empty name")
    path: Path | None = None
    if rule.audited:
        from sightgraph.governance.audit import AuditLog

        path = Path(audit_log) if audit_log is not None else Path(settings.audit_path())
        path.parent.mkdir(parents=True, exist_ok=True)
        AuditLog(path).head()  # a damaged last line refuses now, not after the run
    return Session(user=user, role=role, purpose=why, command=command, audit_log=path)


def query_gate(
    user: str,
    role: str,
    purpose: str | None,
    query: str,
    audit_log: str | os.PathLike[str] | None,
) -> Session:
    """The same gate for a query asked outside a CLI command: a dashboard page or the Python API
    (:func:`sightgraph.governance.audit.audited`).

    Checks, before the query runs, in this order: the role may run ``query`` (an action
    :mod:`~sightgraph.governance.roles` does not classify is person-level), a person-level
    query has a purpose, the user name is not blank, the audit log can take an entry. Returns
    the :class:`Session` whose :meth:`Session.audit` appends the entry after the query ran
    (person-level queries only; an aggregate one gets a session without a log).

    Raises
    ------
    UsageError
        One line naming what is missing.
    """
    if not isinstance(query, str) or not query.strip():
        raise UsageError("access: query must be a non-empty name")
    role = require(role, query)
    person_level = required_role(query) != "viewer"
    why = purpose.strip() if isinstance(purpose, str) else ""
    if person_level and not why:
        raise UsageError(
            f"person-level query {query} needs a purpose; state why you need it "
            "(it is recorded in the audit log)"
        )
    if not isinstance(user, str) or not user.strip():
        raise UsageError(f"{query}: the user must be a non-empty name")
    path: Path | None = None
    if person_level:
        from sightgraph.governance.audit import AuditLog

        if audit_log is None:
            raise UsageError(f"person-level query {query} needs an audit log to record it in")
        path = Path(audit_log)
        path.parent.mkdir(parents=True, exist_ok=True)
        AuditLog(path).head()  # a damaged last line refuses now, not after the query
    return Session(user=user, role=role, purpose=why or None, command=query, audit_log=path)
