"""Dashboard login and the users file.

Users live in a JSON file (``SIGHTGRAPH_USERS_FILE``, default ``WORKDIR/users.json``), written by
``sightgraph users add NAME --role R``: per user a role and a salted scrypt hash of the password
(``hashlib.scrypt``, n=2**14, r=8, p=1, 16-byte random salt), never the password itself. The old
plain-text ``SIGHTGRAPH_DASHBOARD_USERS`` variable is refused.

Without users the dashboard runs for one local user (``SIGHTGRAPH_USER``) as ``viewer``, unless
``SIGHTGRAPH_ROLE`` is set explicitly in the environment (a single-analyst workstation on
loopback); ``sightgraph dashboard`` refuses a role other than viewer without users when bound
beyond loopback. Person-level pages also need a purpose, asked in the sidebar.

Examples
--------
>>> h = hash_password("s3cret")
>>> verify_password("s3cret", h), verify_password("wrong", h)
(True, False)
>>> role_without_users({}), role_without_users({"SIGHTGRAPH_ROLE": "analyst"})
('viewer', 'analyst')
>>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
(True, True, False)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sightgraph.errors import UsageError
from sightgraph.governance.roles import ROLES

if TYPE_CHECKING:
    from sightgraph.dashboard.loaders import Session

__all__ = [
    "LEGACY_USERS_ENV",
    "ROLE_ENV",
    "check_bind",
    "hash_password",
    "is_loopback",
    "load_users",
    "login",
    "role_without_users",
    "set_user",
    "users_path",
    "verify_password",
]

LEGACY_USERS_ENV = "SIGHTGRAPH_DASHBOARD_USERS"
ROLE_ENV = "SIGHTGRAPH_ROLE"
LEGACY_MESSAGE = (
    f"{LEGACY_USERS_ENV} (plain-text passwords) is no longer read; unset it and add users "
    "with `sightgraph users add NAME --role R`"
)

_N, _R, _P, _SALT, _DKLEN = 2**14, 8, 1, 16, 32


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64) of ``password`` with a fresh 16-byte salt."""
    salt = secrets.token_bytes(_SALT) if salt is None else salt
    key = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a :func:`hash_password` string (constant-time compare)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(key)
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(want),
            maxmem=2**26,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


_DUMMY = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def users_path(settings: Any) -> Path:
    """``SIGHTGRAPH_USERS_FILE``, else ``WORKDIR/users.json``."""
    explicit = getattr(settings, "users_file", None)
    return Path(explicit) if explicit is not None else Path(settings.workdir) / "users.json"


def load_users(path: Path) -> dict[str, dict[str, str]]:
    """``{name: {"role": ..., "password": <scrypt hash>}}``; a missing file is no users."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        users = data["users"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"users file {path} is unreadable ({exc})") from None
    return {
        name: {"role": str(u["role"]), "password": str(u["password"])}
        for name, u in users.items()
        if isinstance(u, dict) and u.get("role") in ROLES and u.get("password")
    }


def set_user(path: Path, name: str, role: str, password: str) -> None:
    """Add or replace ``name`` in the users file (atomic write, mode 0600)."""
    name = name.strip()
    if not name or ":" in name or "," in name:
        raise UsageError(f"user name {name!r} is empty or has ':' or ','")
    if role not in ROLES:
        raise UsageError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if not password:
        raise UsageError("an empty password is refused")
    path = Path(path)
    users = load_users(path)
    users[name] = {"role": role, "password": hash_password(password)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump({"users": users}, fh, indent=2, sort_keys=True)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def role_without_users(env: Mapping[str, str]) -> str:
    """The role of the dashboard without users: viewer unless SIGHTGRAPH_ROLE is set explicitly."""
    role = env.get(ROLE_ENV, "").strip().lower()
    return role if role in ROLES else "viewer"


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, has_users: bool, env: Mapping[str, str]) -> str:
    """The role the dashboard runs with when it has no users (or ``"login"``); refuse
    (UsageError) a role other than viewer without users when ``host`` is not loopback, and the
    old plain-text users variable."""
    if env.get(LEGACY_USERS_ENV):
        raise UsageError(LEGACY_MESSAGE)
    if has_users:
        return "login"
    role = role_without_users(env)
    if role != "viewer" and not is_loopback(host):
        raise UsageError(
            f"dashboard: role {role} without users on {host} (beyond loopback) is refused; "
            "add users with `sightgraph users add NAME --role R` or bind --host 127.0.0.1"
        )
    return role


def login() -> Session | None:
    """Return the signed-in session, or draw the login form and return None."""
    import streamlit as st

    from sightgraph.dashboard.loaders import Session, get_settings

    if os.environ.get(LEGACY_USERS_ENV):
        st.error(LEGACY_MESSAGE)
        return None
    s = get_settings()
    users = load_users(users_path(s))
    if not users:
        user, role = s.user, role_without_users(os.environ)
    elif "sg_user" in st.session_state:
        user, role = st.session_state["sg_user"], st.session_state["sg_role"]
    else:
        with st.form("login"):
            st.subheader("Sign in")
            name = st.text_input("User")
            password = st.text_input("Password", type="password")
            if st.form_submit_button("Sign in"):
                entry = users.get(name)
                stored = entry["password"] if entry else _DUMMY  # same work for unknown names
                if verify_password(password, stored) and entry:
                    st.session_state["sg_user"], st.session_state["sg_role"] = name, entry["role"]
                    st.rerun()
                st.error("unknown user or wrong password")
        return None
    with st.sidebar:
        st.caption(f"signed in as **{user}** ({role})")
        purpose = st.text_input(
            "Purpose of person-level queries",
            key="sg_purpose",
            help="Recorded in the audit log with every person-level query.",
        )
    return Session(user=user, role=role, purpose=purpose)
