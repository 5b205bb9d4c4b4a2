"""The dashboard in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
APP = Path(__file__).resolve().parents[2] / "sightgraph" / "dashboard" / "streamlit_app.py"
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def server(dashboard_env):
    if not Path(CHROMIUM).exists():
        pytest.fail(
            "Debian chromium is required for the browser tests (`make browser` installs it)"
        )
    port = _free_port()
    env = dict(os.environ, **dashboard_env)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(APP),
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.address",
            "127.0.0.1",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("streamlit did not start")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)


def test_pages_render_without_exception(server, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        page.goto(server)
        page.get_by_text("Data quality").first.wait_for(timeout=60_000)
        assert page.locator('[data-testid="stException"]').count() == 0
        for title in (
            "Contact network",
            "Trajectory replay",
            "Meetings",
            "Predictions",
            "Cameras and flows",
            "Audit",
        ):
            page.get_by_role("link", name=title).click()
            page.get_by_role("heading", name=title).wait_for(timeout=60_000)
            page.wait_for_timeout(500)
            assert page.locator('[data-testid="stException"]').count() == 0, title
        page.screenshot(path=str(tmp_path / "dashboard.png"))
        browser.close()


#: screenshots of the browser tests (kept after the run; not in git)
ARTIFACTS = Path(
    os.environ.get(
        "SIGHTGRAPH_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"
    )
)
NETWORK_FRAME = 'iframe[title="st_link_analysis.component.component.st_link_analysis"]'


def _cy(page, expr: str):
    """Evaluate ``expr`` with ``cy`` (the drawing's Cytoscape instance) inside its frame."""
    frame = next(f for f in page.frames if "st_link_analysis" in f.url)
    return frame.evaluate(
        f"(() => {{ const cy = document.getElementById('cy')._cyreg.cy; {expr} }})()"
    ), frame


def _open_with_purpose(browser, server: str, hosts: set[str]):
    """A page on the dashboard with the purpose entered; every request's host (or scheme, for
    blob: and data: URLs) goes into ``hosts``."""
    from urllib.parse import urlsplit

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on("request", lambda r: hosts.add(urlsplit(r.url).hostname or urlsplit(r.url).scheme))
    page.goto(server)
    page.get_by_text("Data quality").first.wait_for(timeout=60_000)
    purpose = page.get_by_role("textbox", name="Purpose of person-level queries")
    purpose.fill("browser test")
    purpose.press("Enter")
    page.wait_for_timeout(500)
    return page


def test_contact_network_draws_expands_and_stays_local(server):
    """Purpose, then the network page with its defaults on the demo city: the graph canvas is
    drawn within 10 s; selecting a neighbour and pressing "Expand" adds its contacts without
    removing what was drawn; during the whole session no request leaves 127.0.0.1."""

    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    hosts: set[str] = set()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = _open_with_purpose(browser, server, hosts)
        page.get_by_role("link", name="Contact network").click()
        started = time.time()
        page.frame_locator(NETWORK_FRAME).locator("canvas").first.wait_for(timeout=10_000)
        assert time.time() - started < 10
        page.wait_for_timeout(1500)  # the layout settles
        before, _ = _cy(page, "return cy.nodes().map(n => n.id())")
        assert len(before) >= 2
        picked, frame = _cy(
            page,
            "const n = cy.nodes().filter(n => n.data('hop') == 1)[0]; n.select(); return n.id()",
        )
        page.wait_for_timeout(300)
        frame.locator("#nodeActionsExpand").click()
        deadline = time.time() + 20
        after = before
        while time.time() < deadline and len(after) <= len(before):
            page.wait_for_timeout(500)
            after, _ = _cy(page, "return cy.nodes().map(n => n.id())")
        assert set(before) < set(after), f"expanding {picked} added nothing"
        assert page.locator('[data-testid="stException"]').count() == 0
        page.screenshot(path=str(ARTIFACTS / "network-expanded.png"), full_page=True)
        browser.close()
    assert hosts <= {"127.0.0.1", "blob", "data"}, f"requests left the machine: {sorted(hosts)}"


def test_replay_plays_and_maps_stay_offline(server, demo_workdir):
    """A trajectory replay starts playing (the clock says so) and every map page draws without
    a request beyond 127.0.0.1 (no basemap from the internet); a screenshot of each page."""

    from playwright.sync_api import sync_playwright

    from tests.dashboard.conftest import top_pair

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pid, _ = top_pair(demo_workdir)
    hosts: set[str] = set()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = _open_with_purpose(browser, server, hosts)
        page.get_by_role("link", name="Trajectory replay").click()
        subject = page.get_by_role("textbox", name="Subject (pseudonym)")
        subject.fill(pid)
        subject.press("Enter")
        thumb = page.locator('[data-testid="stSlider"] [aria-valuetext]').first
        thumb.wait_for(state="attached", timeout=20_000)
        end = thumb.get_attribute("aria-valuetext")  # the slider starts at the end
        page.get_by_role("button", name="▶ Play").click()
        page.get_by_text("(playing)").wait_for(timeout=10_000)
        page.wait_for_timeout(1500)
        page.screenshot(path=str(ARTIFACTS / "replay-playing.png"))
        # Pause stops the replay where it was: the slider stays before the end
        page.get_by_role("button", name="⏸ Pause").click()
        page.get_by_text("(playing)").wait_for(state="detached", timeout=10_000)
        page.wait_for_timeout(1000)
        thumb = page.locator('[data-testid="stSlider"] [aria-valuetext]').first
        now = thumb.get_attribute("aria-valuetext")
        assert now is not None and end is not None and now < end, (now, end)
        for title, shot in (("Cameras and flows", "flows.png"), ("Overview", "overview.png")):
            page.get_by_role("link", name=title).click()
            page.get_by_role("heading", name=title).wait_for(timeout=60_000)
            page.wait_for_timeout(2500)
            assert page.locator('[data-testid="stException"]').count() == 0, title
            page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
        browser.close()
    assert hosts <= {"127.0.0.1", "blob", "data"}, f"requests left the machine: {sorted(hosts)}"
