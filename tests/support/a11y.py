"""Accessibility checks in the browser tests: axe-core, and tap targets of 44 px.

axe-core comes from the npm registry, pinned in ``tests/e2e/axe/package-lock.json``
(``npm ci --prefix tests/e2e/axe``; ``.ci/run`` does it and sets ``KOPDES_REQUIRE_AXE=1``
so that a missing install fails there instead of skipping).
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

# The npm folder stays beside the browser tests, where `.ci/run` installs it.
AXE = Path(__file__).parents[1] / "e2e" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
# What a coordinator taps: menu, back links, summaries, buttons, pickers, pager.
TAP_TARGETS = (
    ".top nav a, .top nav button, a.back, summary, main button, .pager a, a.button-link, "
    ".pick, .pick-all, .check"
)


@cache
def axe_source() -> str:
    if not AXE.exists():
        message = f"{AXE} is absent: run `npm ci --prefix tests/e2e/axe`"
        if os.environ.get("KOPDES_REQUIRE_AXE"):
            pytest.fail(message)
        pytest.skip(message)
    return AXE.read_text()


async def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each.

    The page's context must be created with ``bypass_csp=True``: the dashboard's
    Content-Security-Policy rightly refuses the injected script."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(content=axe_source())
    results = await page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(n["target"]) for n in v["nodes"][:5])
        for v in results["violations"]
        if v.get("impact") in BLOCKING
    ]


async def small_tap_targets(page: Any) -> list[str]:
    """Visible tap targets lower than 44 px."""
    return await page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)]
            .filter((e) => e.offsetParent !== null)
            .map((e) => [e, e.getBoundingClientRect()])
            .filter(([, r]) => r.height < 44)
            .map(([e, r]) => `${e.tagName.toLowerCase()}.${e.className} `
                + `"${e.textContent.trim().slice(0, 30)}" ${Math.round(r.height)}px`)""",
        TAP_TARGETS,
    )


async def sideways_scroll(page: Any) -> list[str]:
    """The elements reaching past the window's right edge (none when nothing scrolls
    sideways), innermost first."""
    return await page.evaluate(
        """() => document.documentElement.scrollWidth <= window.innerWidth ? [] :
            [...document.querySelectorAll('body *')]
            .map((e) => [e, e.getBoundingClientRect().right])
            .filter(([, right]) => right > window.innerWidth + 1)
            .reverse().slice(0, 5)
            .map(([e, right]) => `${e.tagName.toLowerCase()}.${e.className} `
                + `${Math.round(right)}px`)"""
    )


async def check_page(page: Any, name: str) -> None:
    # Not a test module: pytest does not rewrite these asserts, so they say what failed.
    violations = await serious_violations(page)
    assert not violations, f"{name}: {violations}"
    small = await small_tap_targets(page)
    assert not small, f"{name}: tap targets under 44 px: {small}"
    wide = await sideways_scroll(page)
    assert not wide, f"{name}: wider than the window: {wide}"
