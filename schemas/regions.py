"""The Kemendagri region table: every province, regency, district and village.

Loaded once per process from the gzip-compressed CSV shipped in ``schemas/data`` (MIT licensed,
see ``wilayah.LICENSE`` there). Codes are dotted: ``61`` province, ``61.12`` regency,
``61.12.01`` district, ``61.12.01.2004`` village.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources


class Level(StrEnum):
    PROVINCE = "province"
    REGENCY = "regency"
    DISTRICT = "district"
    VILLAGE = "village"


LEVEL_BY_DEPTH = {1: Level.PROVINCE, 2: Level.REGENCY, 3: Level.DISTRICT, 4: Level.VILLAGE}


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name: str
    level: Level

    @property
    def parent_code(self) -> str | None:
        return parent_code(self.code)


def parent_code(code: str) -> str | None:
    head, sep, _ = code.rpartition(".")
    return head if sep else None


def region_contains(region_code: str, code: str) -> bool:
    """Whether ``code`` lies inside ``region_code`` (or is it), at any level.

    Pure string logic: a code is inside every code that is a dotted prefix of it.
    """
    return code == region_code or code.startswith(region_code + ".")


def regency_code(code: str) -> str:
    """The regency (kabupaten/kota) part of a district or village code."""
    return ".".join(code.split(".")[:2])


class RegionTable:
    """The regions by code. Rows are kept as (name, level) and a ``Region`` is made when
    asked for: most processes only test codes (is it a village, which province), and
    91,600 frozen objects up front took longer than reading the file."""

    def __init__(self, regions: dict[str, tuple[str, Level]]) -> None:
        self._rows = regions

    @classmethod
    def from_csv_text(cls, text: str) -> RegionTable:
        return cls({code: (name, level) for code, name, level in _csv_rows(text)})

    def __contains__(self, code: object) -> bool:
        return code in self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, code: str) -> Region | None:
        row = self._rows.get(code)
        return Region(code, *row) if row else None

    def name(self, code: str) -> str:
        row = self._rows.get(code)
        return row[0] if row else code

    def is_village(self, code: str) -> bool:
        row = self._rows.get(code)
        return row is not None and row[1] is Level.VILLAGE

    def of_level(self, level: Level, within: str | None = None) -> list[Region]:
        return [
            Region(code, name, level)
            for code, (name, found) in self._rows.items()
            if found is level and (within is None or region_contains(within, code))
        ]

    def villages(self, within: str | None = None) -> list[Region]:
        return self.of_level(Level.VILLAGE, within)

    def lineage(self, code: str) -> list[Region]:
        """The region and its ancestors, province first."""
        parts = code.split(".")
        found = (self.get(".".join(parts[:i])) for i in range(1, len(parts) + 1))
        return [r for r in found if r is not None]

    def describe(self, code: str) -> str:
        """A readable location, village first: ``Kuala Dua, Sungai Raya, Kubu Raya, ...``."""
        names = [r.name.removeprefix("Kabupaten ") for r in reversed(self.lineage(code))]
        return ", ".join(names) if names else code


def _csv_rows(text: str) -> Iterator[tuple[str, str, Level]]:
    """(code, name, level) of each row of the table's CSV text, after its header."""
    rows = csv.reader(io.StringIO(text))
    if next(rows, None) != ["code", "name", "level"]:
        raise ValueError("region table: expected the header code,name,level")
    levels = {level.value: level for level in Level}
    for code, name, level in rows:
        yield code, name, levels[level]


def _csv_text() -> str:
    raw = resources.files("schemas").joinpath("data/wilayah.csv.gz").read_bytes()
    return gzip.decompress(raw).decode("utf-8")


@cache
def region_table() -> RegionTable:
    return RegionTable.from_csv_text(_csv_text())


@dataclass(frozen=True, slots=True)
class Province:
    code: str
    regencies: tuple[str, ...]  # their codes, in order
    villages: int


@cache
def provinces_summary() -> dict[str, Province]:
    """Each province's regency codes and number of villages, by code, in code order.

    What a matcher needs of the table (its provinces, how much work each is, which
    regencies to load): read from the same file without keeping the table, which holds
    22 MiB of names and codes in every process that loads it.
    """
    regencies: dict[str, list[str]] = {}
    villages: dict[str, int] = {}
    for code, _, level in _csv_rows(_csv_text()):
        province = code.split(".", 1)[0]
        if level is Level.PROVINCE:
            regencies.setdefault(code, [])
        elif level is Level.REGENCY:
            regencies.setdefault(province, []).append(code)
        elif level is Level.VILLAGE:
            villages[province] = villages.get(province, 0) + 1
    return {
        code: Province(code, tuple(sorted(codes)), villages.get(code, 0))
        for code, codes in sorted(regencies.items())
    }
