"""The demo as a newcomer runs it: it prints the dashboard address and logins, the dashboard
shows the demo's suggestions, and Ctrl-C stops everything cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from services.platform.embedded_nats import free_port

pytestmark = pytest.mark.slow


def wait_for_line(path, pattern: str, process: subprocess.Popen, timeout: float = 240) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace") if path.exists() else ""
        if re.search(pattern, text):
            return text
        assert process.poll() is None, text[-3000:]
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} not printed within {timeout}s")


def test_demo_serves_the_dashboard_with_its_data(tmp_path):
    port = free_port()
    out = tmp_path / "demo.out"
    env = {**os.environ, "KOPDES_WEB_PORT": str(port), "COLUMNS": "200"}
    with out.open("wb") as sink:
        demo = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "services",
                "demo",
                "--limit",
                "60",
                "--serve",
                "--data-dir",
                str(tmp_path / "demo"),
            ],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's Ctrl-C goes to the whole group
        )
    try:
        text = wait_for_line(out, r"dasbor berjalan", demo)
        assert f"Dasbor tinjauan: http://127.0.0.1:{port}/" in text
        logins = dict(re.findall(r"masuk sebagai (\S+) / (\S+)", text))
        assert set(logins) == {"pmo.kalbar", "pendamping.sungairaya", "admin"}

        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as web:
            page = web.get("/login")
            token_field = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token_field is not None, "the login form carries a CSRF token"
            token = token_field.group(1)
            login = web.post(
                "/login",
                data={
                    "username": "pmo.kalbar",
                    "password": logins["pmo.kalbar"],
                    "csrf_token": token,
                },
            )
            assert login.status_code == 303
            queue = web.get("/")
            shown = re.search(r"([\d.]+) menunggu", queue.text)
            assert shown is not None, "the dashboard shows how many suggestions wait"
            waiting = int(shown.group(1).replace(".", ""))
            assert waiting > 0, "the dashboard shows the demo's suggestions"
            assert "Koperasi" in queue.text and "Kalimantan Barat" in queue.text
    finally:
        os.killpg(demo.pid, signal.SIGINT)  # as Ctrl-C in a terminal
        code = demo.wait(timeout=60)
    assert code == 0, out.read_text()[-3000:]
    assert "Traceback" not in out.read_text()
