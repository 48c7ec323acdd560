"""The XLSX writer of the exports: what a spreadsheet reads back from its files."""

from __future__ import annotations

import io
import zipfile

from openpyxl import load_workbook

from services.review import xlsx


def _read(body: bytes):
    return load_workbook(io.BytesIO(body)).active


def test_a_sheet_reads_back_with_its_types_and_text_as_written():
    header = ["ID saran", "Skor", "Koperasi", "Catatan", "Bobot"]
    rows = [
        ["sg-1", 88, "Koperasi Désa <Merah & Putih>", "baris\nkedua", 0.25],
        ["sg-2", 0, "  spasi di tepi  ", None, -1.5],
        ["sg-3", 100, "=SUM(A1:A2)", "", 3],
    ]
    sheet = _read(xlsx.workbook(header, rows, "antrean-saran"))
    values = list(sheet.values)
    assert values[0] == tuple(header)
    assert values[1] == ("sg-1", 88, "Koperasi Désa <Merah & Putih>", "baris\nkedua", 0.25)
    # Empty cells keep the columns after them in place; spaces are kept.
    assert values[2] == ("sg-2", 0, "  spasi di tepi  ", None, -1.5)
    # Text that looks like a formula stays text: an export never computes anything.
    assert values[3][2] == "=SUM(A1:A2)" and sheet["C4"].data_type == "s"
    assert sheet.title == "antrean-saran"
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.b and not sheet["A2"].font.b
    assert sheet.column_dimensions["C"].width >= len("Koperasi Désa <Merah & Putih>")


def test_characters_xml_cannot_carry_are_dropped_and_long_text_is_cut():
    rows = [["tab\tdan\x01kontrol\x1f", "x" * 40_000]]
    sheet = _read(xlsx.workbook(["a", "b"], rows, "x"))
    assert sheet["A2"].value == "tab\tdankontrol"
    assert len(sheet["B2"].value) == xlsx.MAX_CELL


def test_the_package_holds_the_parts_a_spreadsheet_needs():
    body = xlsx.workbook(["a"], [[1]], "ringkasan/wilayah: [2026]*")
    names = set(zipfile.ZipFile(io.BytesIO(body)).namelist())
    assert names == {
        "[Content_Types].xml",
        "_rels/.rels",
        "xl/workbook.xml",
        "xl/_rels/workbook.xml.rels",
        "xl/styles.xml",
        "xl/worksheets/sheet1.xml",
    }
    assert load_workbook(io.BytesIO(body)).sheetnames == ["ringkasan-wilayah- -2026--"]


def test_rows_written_column_by_column_are_the_cells_written_one_by_one():
    class Code(str):  # a str subclass: written cell by cell, as text
        pass

    rows = [
        ["sg-1", 88, "Désa <Merah & Putih>", "", None, 0.5, True, Code("x"), "a" * 40_000],
        ["sg-2", 0, "baris\nkedua", "isi", 7, float("nan"), False, Code("y"), "b"],
        ["sg-3", -5, "kontrol\x01", "lagi", "teks", 2, 1, Code(""), "c"],
    ]
    by_cell = "".join("<row>" + "".join(map(xlsx._cell, row)) + "</row>" for row in rows)
    assert xlsx._rows(rows) == by_cell
    # Whole columns of text or of whole numbers take the fast way; the same cells result.
    plain = [["sg-1", 88, "Koperasi A"], ["sg-2", 7, "Koperasi & B"]]
    assert xlsx._rows(plain) == "".join(
        "<row>" + "".join(map(xlsx._cell, row)) + "</row>" for row in plain
    )
    ragged: list[list[object]] = [["a", 1], ["b"]]
    assert xlsx._rows(ragged) == "<row>" + xlsx._cell("a") + xlsx._cell(1) + "</row><row>" + (
        xlsx._cell("b") + "</row>"
    )
    assert xlsx._rows([]) == ""
