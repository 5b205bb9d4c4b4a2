"""Access roles: viewer < analyst < admin, refusals name the role, the action and whom to ask."""

from __future__ import annotations

import pytest

from sightgraph.errors import UsageError
from sightgraph.governance.roles import (
    ROLES,
    allowed,
    describe_action,
    normalize_role,
    require,
    required_role,
)

# action -> least role that may run it
MATRIX = {
    "camera-flows": "viewer",
    "overview": "viewer",
    "audit verify": "viewer",
    "trajectory": "analyst",
    "meetings": "analyst",
    "ego_network": "analyst",
    "some-new-query": "analyst",  # unknown actions are person-level, never open to viewers
    "forget": "admin",
    "retention": "admin",
    "Retention Apply": "admin",
    "audit-read": "admin",
}


@pytest.mark.parametrize("action", sorted(MATRIX))
@pytest.mark.parametrize("role", ROLES)
def test_allowed_matrix(role: str, action: str) -> None:
    """A role may run an action exactly when it ranks at or above the action's least role."""
    expected = ROLES.index(role) >= ROLES.index(MATRIX[action])
    assert allowed(role, action) is expected
    assert required_role(action) == MATRIX[action]
    if expected:
        assert require(role, action) == role
    else:
        with pytest.raises(UsageError, match=f"^role {role} may not .*; ask an {MATRIX[action]}$"):
            require(role, action)


def test_refusal_messages_are_exact() -> None:
    with pytest.raises(UsageError) as exc:
        require("viewer", "trajectory")
    assert str(exc.value) == "role viewer may not run person-level query trajectory; ask an analyst"
    with pytest.raises(UsageError) as exc:
        require("analyst", "forget")
    assert str(exc.value) == "role analyst may not forget (erase) a subject; ask an admin"
    with pytest.raises(UsageError) as exc:
        require("viewer", "retention")
    assert str(exc.value) == "role viewer may not apply retention; ask an admin"


def test_role_names_are_case_insensitive_and_unknown_roles_refused() -> None:
    assert normalize_role("  Admin ") == "admin"
    assert require("ANALYST", "trajectory") == "analyst"
    for bad in ("root", "", None, 3):
        with pytest.raises(UsageError, match="unknown role"):
            require(bad, "overview")  # type: ignore[arg-type]
        with pytest.raises(UsageError, match="unknown role"):
            allowed(bad, "overview")  # type: ignore[arg-type]


def test_action_names_normalize_spaces_underscores_case() -> None:
    assert describe_action("Camera_Flows").name == "camera-flows"
    assert describe_action(" retention  apply ").min_role == "admin"
    with pytest.raises(UsageError, match="action"):
        require("admin", "  ")
