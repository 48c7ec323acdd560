"""A repeated failure is logged once per interval, with the count of those left out."""

from __future__ import annotations

import logging

import pytest

from services.platform.log_throttle import ThrottledLog


def test_each_key_is_logged_once_per_interval(
    caplog: pytest.LogCaptureFixture, monkeypatch
) -> None:
    now = [100.0]
    monkeypatch.setattr("services.platform.log_throttle.time.monotonic", lambda: now[0])
    throttle = ThrottledLog(logging.getLogger("t"), interval=60)
    caplog.set_level(logging.INFO, "t")
    for n in range(1000):
        throttle.log(logging.WARNING, ("ingest-offers", "Boom"), "message %d failed", n)
    throttle.log(logging.WARNING, ("ingest-offers", "Other"), "another kind")
    assert [r.getMessage() for r in caplog.records] == ["message 0 failed", "another kind"]
    now[0] = 161
    assert throttle.log(logging.WARNING, ("ingest-offers", "Boom"), "message %d failed", 1000)
    assert caplog.records[-1].getMessage() == (
        "message 1000 failed (999 more like it in the last 60 s not logged)"
    )
