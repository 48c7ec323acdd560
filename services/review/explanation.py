"""A suggestion's explanation in one or two plain sentences for coordinators.

Rendered on the display side from the components the matcher stored (``name``,
``weight``, ``score``, ``detail``; matcher/explain.py writes the details), so that a
coordinator reads what the cooperative has that the offer looks for and what is missing,
without field names, arrows, scores or English words. The technical breakdown stays
available behind "Rincian" (labels.component_words).
"""

from __future__ import annotations

import re
from typing import Any

# '"simpan pinjm" → simpan pinjam (96)' or '…, terkait cold storage': the label after the
# arrow (it may hold parentheses of its own: 'penyerapan hasil (offtake) (100)').
_HIT = re.compile(r"→ (?P<label>.+?) \((?P<score>\d+)\)(?:, terkait (?P<wanted>[^;]+))?")
_SOUGHT = re.compile(r"\(dicari: (?P<what>.+)\)$")
_HANDLED = re.compile(r"^(?P<goods>.+?) ditangani oleh ")
_ASIDE = re.compile(r"\s*\([^)]*\)")  # "(offtake)", "(USP)": asides, often English


def _plain(label: str) -> str:
    return _ASIDE.sub("", label).strip()


def _join(items: list[str]) -> str:
    items = list(dict.fromkeys(i for i in items if i))  # once each, in order
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " dan " + items[-1]


def _hits(detail: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Labels matched exactly, and (label, wanted) matched as related terms."""
    exact: list[str] = []
    related: list[tuple[str, str]] = []
    for part in detail.split(";"):
        hit = _HIT.search(part)
        if hit is None:
            continue
        if hit["wanted"]:
            related.append((_plain(hit["label"]), _plain(hit["wanted"])))
        else:
            exact.append(_plain(hit["label"]))
    return exact, related


def _sought(detail: str) -> str:
    found = _SOUGHT.search(detail)
    return _plain(found["what"]) if found else ""


def plain_explanation(components: list[dict[str, Any]]) -> str:
    """'Koperasi memiliki unit usaha … yang dicari tawaran ini. Yang kurang: …'"""
    parts = {
        str(c.get("name")): str(c.get("detail") or "")
        for c in components
        if float(c.get("weight") or 0) > 0  # a component that did not count is left out
    }
    has: list[str] = []
    missing: list[str] = []

    if "business_unit" in parts:
        detail = parts["business_unit"]
        exact, related = _hits(detail)
        if exact:
            has.append(f"unit usaha {_join(exact)}")
        has += [f"unit usaha {label} (mirip dengan {wanted})" for label, wanted in related]
        if not exact and not related and _sought(detail):
            missing.append(f"unit usaha {_sought(detail)} belum ada")

    if "commodity" in parts:
        detail = parts["commodity"]
        handled = _HANDLED.match(detail)
        exact, related = _hits(detail)
        if handled and exact:
            has.append(f"unit {_join(exact)} untuk {_plain(handled['goods'])}")
        else:
            if exact:
                has.append(f"komoditas {_join(exact)}")
            has += [f"komoditas {label} (mirip dengan {wanted})" for label, wanted in related]
            if not exact and not related and _sought(detail):
                missing.append(f"komoditas {_sought(detail)} belum ada")

    needs: list[str] = []
    if "needs" in parts:
        detail = parts["needs"]
        needs, _ = _hits(detail)
        if detail.startswith("kebutuhan koperasi tidak sesuai"):
            stated = _plain(detail.partition(":")[2])
            missing.append(
                f"kebutuhan yang disebut koperasi ({stated}) tidak sesuai dengan tawaran ini"
            )

    if "offer_type" in parts and "kurang sesuai" in parts["offer_type"]:
        missing.append("jenis tawaran ini kurang sesuai dengan profil koperasi")

    sentences: list[str] = []
    if has and needs:
        sentences.append(
            f"Koperasi memiliki {_join(has)} yang dicari tawaran ini; kebutuhan yang disebut "
            f"koperasi ({_join(needs)}) juga sesuai."
        )
    elif has:
        sentences.append(f"Koperasi memiliki {_join(has)} yang dicari tawaran ini.")
    elif needs:
        sentences.append(
            f"Kebutuhan yang disebut koperasi ({_join(needs)}) sesuai dengan tawaran ini."
        )
    else:
        sentences.append("Koperasi belum memiliki hal khusus yang dicari tawaran ini.")
    if missing:
        sentences.append(f"Yang kurang: {_join(missing)}.")
    return " ".join(sentences)
