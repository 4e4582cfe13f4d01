"""Exports: rows rendered as JSON, CSV or XLSX, answered inline or, past the inline limit,
written to S3 and answered with a presigned URL.

- JSON: `{export_type, exported_at, count, data: [...]}` (the platform's envelope).
- CSV (RFC 4180): a header row, CRLF line ends, fields quoted when they hold a comma, a
  quote or a line break (quotes doubled); nested values as JSON text. Text that a
  spreadsheet would run as a formula — starting with `=`, `+`, `-`, `@`, a tab or a
  carriage return — is prefixed with `'` (OWASP's advice). Numbers are left as they are.
- XLSX (openpyxl, imported here only): one sheet per table, a bold header row, typed
  cells: numbers, booleans, timestamps as dates; text is always a text cell, never a
  formula.

File names: `<type>-<yyyymmdd>.<ext>` (UTC), in `Content-Disposition: attachment`.
"""
from __future__ import annotations

import csv
import io
import json
import re
import time
from datetime import datetime

from chalicelib.clock import iso, now_ms
from chalicelib.config import settings

FORMATS = {"json": ("application/json", "json"),
           "csv": ("text/csv; charset=utf-8", "csv"),
           "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx")}
TYPES = ("tasks", "agents", "analytics")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
URL_TTL_S = 3600
_ISO = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"


class Export:
    """A rendered export: its bytes and how to label them."""

    def __init__(self, export_type: str, fmt: str, body: bytes, stamp: int):
        self.export_type, self.format, self.body = export_type, fmt, body
        self.content_type, extension = FORMATS[fmt]
        self.filename = f"{export_type}-{time.strftime('%Y%m%d', time.gmtime(stamp / 1000))}" \
                        f".{extension}"

    @property
    def disposition(self) -> str:
        return f'attachment; filename="{self.filename}"'


def render(export_type: str, fmt: str, tables: dict[str, list[dict]]) -> Export:
    """`tables`: sheet name -> rows (the first table is the export's data)."""
    stamp = now_ms()
    if fmt == "json":
        main = next(iter(tables.values()))
        envelope = {"export_type": export_type, "exported_at": iso(stamp), "count": len(main),
                    "data": main}
        envelope.update({name: rows for name, rows in list(tables.items())[1:]})
        body = json.dumps(envelope, ensure_ascii=False, default=str).encode()
    elif fmt == "csv":
        body = to_csv(next(iter(tables.values()))).encode("utf-8")
    else:
        body = to_xlsx(tables)
    return Export(export_type, fmt, body, stamp)


def columns(rows: list[dict]) -> list[str]:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return list(names)


def csv_cell(value) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def to_csv(rows: list[dict]) -> str:
    names = columns(rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(names)
    for row in rows:
        writer.writerow([csv_cell(row.get(name)) for name in names])
    return out.getvalue()


def xlsx_cell(value):
    """(value, number_format or None) as a typed cell takes it."""
    if value is None or isinstance(value, (bool, int, float)):
        return value, None
    if isinstance(value, str):
        if re.match(_ISO, value):
            return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ"), "yyyy-mm-dd hh:mm:ss"
        return value, None
    return json.dumps(value, ensure_ascii=False), None


def to_xlsx(tables: dict[str, list[dict]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for name, rows in tables.items():
        sheet = book.create_sheet(title=name[:31])
        names = columns(rows)
        sheet.append(names)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([None] * len(names))
            for position, column in enumerate(names, start=1):
                value, number_format = xlsx_cell(row.get(column))
                cell = sheet.cell(row=sheet.max_row, column=position)
                cell.value = value
                if isinstance(value, str):
                    cell.data_type = "s"  # text stays text: '=1+1' is never a formula
                if number_format:
                    cell.number_format = number_format
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def deliver(network_id: str, export: Export) -> dict | None:
    """None when the export is answered inline; past the inline limit, it is written to
    S3 and this returns where to fetch it (a presigned URL, with the same file name)."""
    if len(export.body) <= settings().exports_inline_max:
        return None
    from chalicelib.ids import new_id
    from chalicelib.services.files import s3
    bucket = settings().files_bucket
    key = f"exports/{network_id}/{new_id('exp')}/{export.filename}"
    s3().put_object(Bucket=bucket, Key=key, Body=export.body, ContentType=export.content_type,
                    ContentDisposition=export.disposition)
    url = s3().generate_presigned_url("get_object", ExpiresIn=URL_TTL_S, Params={
        "Bucket": bucket, "Key": key, "ResponseContentType": export.content_type,
        "ResponseContentDisposition": export.disposition})
    return {"export_type": export.export_type, "format": export.format, "url": url,
            "filename": export.filename, "size_bytes": len(export.body),
            "content_type": export.content_type, "expires_in": URL_TTL_S}
