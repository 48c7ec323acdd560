"""Work lists to download: the filtered queue and the overview as CSV or Excel (XLSX).

Columns carry names and region names beside the ids, so a coordinator can work from the
file alone (and a spreadsheet can still join on the ids).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime

from fastapi.responses import Response

from schemas.regions import region_table
from services.platform.localtime import WIB
from services.review import xlsx
from services.review.labels import OFFER_TYPE_LABELS
from services.review.overview import Overview
from services.review.worklist import ExportItem

Table = tuple[list[str], list[list[object]]]

QUEUE_COLUMNS = [
    "ID saran",
    "Skor",
    "Menunggu sejak",
    "Lama menunggu (hari)",
    "Koperasi",
    "ID koperasi",
    "Desa/kelurahan",
    "Kecamatan",
    "Kabupaten/kota",
    "Provinsi",
    "Kode desa",
    "Mitra",
    "ID mitra",
    "Jenis tawaran",
    "Tawaran",
]
OVERVIEW_COLUMNS = [
    "Provinsi",
    "Kabupaten/kota",
    "Kode kabupaten/kota",
    "Menunggu",
    "Disetujui",
    "Ditolak",
    "Koperasi",
    "Koperasi punya mitra",
]


def queue_table(items: list[ExportItem], now: datetime) -> Table:
    table = region_table()
    rows: list[list[object]] = []
    for s in items:
        village = s.village_code
        rows.append(
            [
                s.suggestion_id,
                round(s.score),
                s.created_at.astimezone(WIB).strftime("%Y-%m-%d %H:%M"),
                s.waiting_days(now),
                s.cooperative_name,
                s.cooperative_id,
                table.name(village),
                table.name(village[:8]),
                table.name(village[:5]),
                table.name(village[:2]),
                village,
                s.partner_name,
                s.partner_id,
                OFFER_TYPE_LABELS.get(s.offer_type, s.offer_type),
                s.offer_title,
            ]
        )
    return QUEUE_COLUMNS, rows


def overview_table(o: Overview) -> Table:
    table = region_table()
    rows: list[list[object]] = [
        [
            table.name(r.code[:2]),
            table.name(r.code),
            r.code,
            r.pending,
            r.approved,
            r.rejected,
            r.cooperatives,
            r.covered,
        ]
        for r in o.regencies
    ]
    return OVERVIEW_COLUMNS, rows


def _attachment(body: bytes, media_type: str, filename: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


def as_csv(data: Table, name: str) -> Response:
    header, rows = data
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    # The byte order mark makes Excel read the file as UTF-8 (names with accents).
    return _attachment(out.getvalue().encode("utf-8-sig"), "text/csv; charset=utf-8", name + ".csv")


def as_xlsx(data: Table, name: str) -> Response:
    header, rows = data
    return _attachment(xlsx.workbook(header, rows, name), xlsx.MEDIA_TYPE, name + ".xlsx")


WRITERS: dict[str, Callable[[Table, str], Response]] = {"csv": as_csv, "xlsx": as_xlsx}
