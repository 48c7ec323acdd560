"""What every generator shares: the default area and the default timestamp."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

WIB = timezone(timedelta(hours=7))
KALBAR = "61"  # Kalimantan Barat, the demo's province


def default_updated_at(seed: int) -> datetime:
    """The fixed aware timestamp used when none is given: 2026-11-01 08:00 WIB + seed seconds."""
    return datetime(2026, 11, 1, 8, 0, tzinfo=WIB) + timedelta(seconds=seed % 3600)
