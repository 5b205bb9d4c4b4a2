"""Governance: audit log, access roles, retention, erasure, small-cell suppression (DESIGN §8)."""

from sightgraph.governance.audit import AuditLog, VerifyResult, audited
from sightgraph.governance.erasure import forget_subject, retention_apply, retention_cutoff
from sightgraph.governance.privacy import distinct_subject_counts, suppress_small_cells
from sightgraph.governance.roles import ROLES, allowed, require

__all__ = [
    "ROLES",
    "AuditLog",
    "VerifyResult",
    "allowed",
    "audited",
    "distinct_subject_counts",
    "forget_subject",
    "require",
    "retention_apply",
    "retention_cutoff",
    "suppress_small_cells",
]
