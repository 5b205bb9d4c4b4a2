"""Dashboard safety: loopback by default, viewer without users, hashed users file, signals."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from typer.testing import CliRunner

from sightgraph import cli
from sightgraph.dashboard import auth
from sightgraph.errors import UsageError

APP = Path(cli.__file__).parent / "dashboard" / "streamlit_app.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------ command line
def test_command_binds_the_given_host_and_port() -> None:
    cmd = cli.dashboard_command(APP, 8600, "127.0.0.1")
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.port") + 1] == "8600"
    assert cmd[1:4] == ["-m", "streamlit", "run"]
    wide = cli.dashboard_command(APP, 8501, "0.0.0.0")
    assert wide[wide.index("--server.address") + 1] == "0.0.0.0"


def test_host_defaults_to_loopback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: dict[str, object] = {}

    def fake_run(lake: Path, workdir: Path, port: int = 8501, host: str = "x") -> int:
        seen.update(port=port, host=host)
        return 0

    monkeypatch.setattr(cli, "_run_dashboard", fake_run)
    monkeypatch.setenv("SIGHTGRAPH_WORKDIR", str(tmp_path))
    monkeypatch.delenv("SIGHTGRAPH_ROLE", raising=False)
    monkeypatch.delenv("SIGHTGRAPH_DASHBOARD_USERS", raising=False)
    monkeypatch.delenv("SIGHTGRAPH_USERS_FILE", raising=False)
    r = CliRunner().invoke(cli.app, ["dashboard", "--port", "8777"])
    assert r.exit_code == 0, r.output
    assert seen == {"port": 8777, "host": "127.0.0.1"}


# ------------------------------------------------------------------------------ role decision
@pytest.mark.parametrize(
    ("host", "env", "has_users", "want"),
    [
        ("127.0.0.1", {}, False, "viewer"),
        ("0.0.0.0", {}, False, "viewer"),
        ("127.0.0.1", {"SIGHTGRAPH_ROLE": "analyst"}, False, "analyst"),
        ("localhost", {"SIGHTGRAPH_ROLE": "admin"}, False, "admin"),
        ("::1", {"SIGHTGRAPH_ROLE": "admin"}, False, "admin"),
        ("0.0.0.0", {"SIGHTGRAPH_ROLE": "viewer"}, False, "viewer"),
        ("0.0.0.0", {"SIGHTGRAPH_ROLE": "admin"}, True, "login"),
        ("127.0.0.1", {"SIGHTGRAPH_ROLE": "bogus"}, False, "viewer"),
    ],
)
def test_role_decision(host: str, env: dict[str, str], has_users: bool, want: str) -> None:
    assert auth.check_bind(host, has_users, env) == want


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "dash.example.org"])
def test_non_viewer_without_users_beyond_loopback_is_refused(host: str) -> None:
    with pytest.raises(UsageError, match="beyond loopback"):
        auth.check_bind(host, False, {"SIGHTGRAPH_ROLE": "analyst"})


def test_cli_refuses_wide_bind_with_role_and_no_users(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "_run_dashboard", lambda *a, **k: pytest.fail("must not start"))
    monkeypatch.setenv("SIGHTGRAPH_WORKDIR", str(tmp_path))
    monkeypatch.setenv("SIGHTGRAPH_ROLE", "analyst")
    monkeypatch.delenv("SIGHTGRAPH_DASHBOARD_USERS", raising=False)
    monkeypatch.delenv("SIGHTGRAPH_USERS_FILE", raising=False)
    with pytest.raises(SystemExit) as exc:
        cli.main(["dashboard", "--host", "0.0.0.0"])
    assert exc.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "beyond loopback" in lines[0]


def test_plain_text_users_variable_is_refused() -> None:
    with pytest.raises(UsageError, match="sightgraph users add"):
        auth.check_bind("127.0.0.1", False, {"SIGHTGRAPH_DASHBOARD_USERS": "a:admin:pw"})


def test_login_without_users_is_viewer_unless_role_set(
    dashboard_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("SIGHTGRAPH_USERS_FILE", str(tmp_path / "none.json"))
    monkeypatch.delenv("SIGHTGRAPH_ROLE")
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert any("(viewer)" in c.value for c in at.sidebar.caption)


# ------------------------------------------------------------------------------ users file
def test_hash_is_salted_scrypt_and_verifies() -> None:
    a, b = auth.hash_password("pw"), auth.hash_password("pw")
    assert a != b and a.startswith("scrypt$16384$8$1$") and "pw" not in a.split("$")
    assert auth.verify_password("pw", a) and auth.verify_password("pw", b)
    assert not auth.verify_password("pW", a)
    assert not auth.verify_password("pw", "plain-text")


def test_users_add_writes_hash_not_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "users.json"
    monkeypatch.setenv("SIGHTGRAPH_USERS_FILE", str(path))
    monkeypatch.setenv("SIGHTGRAPH_ROLE", "admin")
    runner = CliRunner()
    r = runner.invoke(
        cli.app, ["users", "add", "ana", "--role", "analyst", "--password-stdin"], input="s3cret\n"
    )
    assert r.exit_code == 0, r.output
    text = path.read_text()
    assert "s3cret" not in text
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    users = auth.load_users(path)
    assert users["ana"]["role"] == "analyst"
    assert auth.verify_password("s3cret", users["ana"]["password"])
    assert set(json.loads(text)["users"]["ana"]) == {"role", "password"}
    # a second user keeps the first; a bad role is refused
    r = runner.invoke(cli.app, ["users", "add", "bo", "--password-stdin"], input="x\n")
    assert r.exit_code == 0 and set(auth.load_users(path)) == {"ana", "bo"}
    with pytest.raises(SystemExit) as exc:
        monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
        cli.main(["users", "add", "cy", "--role", "root", "--password-stdin"])
    assert exc.value.code == 2


def test_users_add_needs_admin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SIGHTGRAPH_USERS_FILE", str(tmp_path / "users.json"))
    monkeypatch.setenv("SIGHTGRAPH_ROLE", "analyst")
    monkeypatch.setattr(sys, "stdin", io.StringIO("pw\n"))
    with pytest.raises(SystemExit) as exc:
        cli.main(["users", "add", "ana", "--password-stdin"])
    assert exc.value.code == 2
    assert not (tmp_path / "users.json").exists()


def test_login_checks_the_users_file(
    dashboard_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from streamlit.testing.v1 import AppTest

    path = tmp_path / "users.json"
    auth.set_user(path, "ana", "analyst", "s3cret")
    monkeypatch.setenv("SIGHTGRAPH_USERS_FILE", str(path))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.text_input[0].input("ana")
    at.text_input[1].input("wrong")
    at.button[0].click().run()
    assert any("wrong password" in e.value for e in at.error)
    at.text_input[0].input("ana")
    at.text_input[1].input("s3cret")
    at.button[0].click().run()
    assert not at.exception
    assert any("ana" in c.value and "(analyst)" in c.value for c in at.sidebar.caption)


# ------------------------------------------------------------------------------ signals
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_streamlit_child(tmp_path: Path, sig: signal.Signals) -> None:
    port = _free_port()
    env = dict(
        os.environ,
        SIGHTGRAPH_WORKDIR=str(tmp_path),
        SIGHTGRAPH_ROLE="viewer",
        SIGHTGRAPH_USERS_FILE=str(tmp_path / "users.json"),
    )
    env.pop("SIGHTGRAPH_DASHBOARD_USERS", None)
    parent = subprocess.Popen(
        [sys.executable, "-m", "sightgraph.cli", "dashboard", "--lake", str(tmp_path)]
        + ["--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a signal to the parent only, not to a terminal's group
    )
    children: list[psutil.Process] = []
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert parent.poll() is None, "sightgraph dashboard exited early"
                time.sleep(0.3)
        else:
            pytest.fail("streamlit did not start")
        children = psutil.Process(parent.pid).children(recursive=True)
        assert children, "streamlit is not a child of sightgraph dashboard"
        parent.send_signal(sig)
        code = parent.wait(timeout=20)
        gone, alive = psutil.wait_procs(children, timeout=5)
        assert not alive, f"streamlit left running: {alive}"
        assert code in (0, 128 + sig)
    finally:
        if parent.poll() is None:
            parent.kill()
        for child in children:  # never leave a server behind, even when the test fails
            if child.is_running():
                child.kill()


def test_a_child_that_ignores_the_signal_is_still_stopped_with_its_status() -> None:
    """A signal that reaches streamlit before its handler is set can leave it hanging: the
    supervisor terminates a child still running after the nudge, and the command's status is the
    signal's (here SIGINT: 130), in a few seconds rather than the kill's grace period."""
    from sightgraph.cli import _supervise

    child = (
        "import signal, sys, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
        "sys.stdout.write('ready'); sys.stdout.flush(); time.sleep(60)"
    )
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGINT))
    t = time.monotonic()
    timer.start()
    try:
        code = _supervise([sys.executable, "-c", child], dict(os.environ), grace_s=30, nudge_s=2)
    finally:
        timer.cancel()
    assert code == 128 + signal.SIGINT
    assert time.monotonic() - t < 15  # stopped by the nudge, not by the 30 s kill
