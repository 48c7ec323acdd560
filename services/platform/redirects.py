"""Where a form may send the browser back to: paths on this site only (the review's and
notify's pages)."""

from __future__ import annotations

from urllib.parse import urlsplit


def local_path(value: str | None, default: str = "/") -> str:
    """``value`` when it is a path on this site, else ``default``.

    Refuses what browsers read as another host: ``//host``, ``/\\host`` (backslashes are
    slashes to them), a scheme, and control characters (a tab inside ``/\t/host`` is
    dropped by the URL parser, leaving ``//host``)."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value
