"""Indonesia's three time zones, and times as the dashboard's pages show them: in the
viewer's zone, with its name. Shared by the review's and notify's pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context

WIB = timezone(timedelta(hours=7), "WIB")
WITA = timezone(timedelta(hours=8), "WITA")
WIT = timezone(timedelta(hours=9), "WIT")
# Indonesia's three time zones by province code (Kemendagri): Bali, Nusa Tenggara, the
# eastern half of Kalimantan and Sulawesi keep WITA; Maluku and Papua keep WIT.
WITA_PROVINCES = {"51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76"}
WIT_PROVINCES = {"81", "82", "91", "92", "93", "94", "95", "96"}


def province_zone(region_code: str) -> timezone:
    province = region_code.split(".", 1)[0]
    if province in WITA_PROVINCES:
        return WITA
    if province in WIT_PROVINCES:
        return WIT
    return WIB


def viewer_zone(coordinator: Any) -> timezone:
    """The coordinator's local time: of the province of their regions (the first, when
    they span zones); WIB for an admin, who works from Jakarta."""
    scope = list(getattr(coordinator, "scope", None) or [])
    return province_zone(scope[0]) if scope else WIB


def when(value: datetime | None, zone: timezone = WIB) -> str:
    """``03-12-2026 09:15 WITA``: the time in ``zone``, with the zone's name."""
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(zone)
    return f"{local.strftime('%d-%m-%Y %H:%M')} {zone.tzname(None)}"


@pass_context
def when_for_viewer(context: Context, value: datetime | None) -> str:
    """The ``when`` filter of templates: in the zone of the page's ``viewer_tz``."""
    return when(value, context.get("viewer_tz") or WIB)
