"""Reading uploaded CSV files: UTF-8 (with or without BOM) or GB18030, Chinese or English headers."""

from __future__ import annotations

import csv
import io

from identity_matching.domain.records import canonical_header

MAX_BYTES = 50 * 1024 * 1024


class UnreadableFile(ValueError):
    """The whole file is refused (wrong encoding, no header, too big)."""


def decode(content: bytes) -> str:
    if len(content) > MAX_BYTES:
        raise UnreadableFile("文件超过50MB (file larger than 50 MB)")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableFile("无法识别文件编码，请使用UTF-8或GBK (not UTF-8 or GBK/GB18030)")


def read_rows(content: bytes) -> tuple[list[str], list[dict[str, str]]]:
    """The canonical headers and the data rows (row numbers start at 2, after the header)."""
    reader = csv.reader(io.StringIO(decode(content)))
    try:
        header = [canonical_header(h) for h in next(reader)]
    except StopIteration:
        raise UnreadableFile("文件为空 (the file is empty)") from None
    except csv.Error as exc:
        raise UnreadableFile(f"CSV格式错误 (malformed CSV: {exc})") from None
    rows = []
    try:
        for values in reader:
            if any(v.strip() for v in values):
                rows.append(dict(zip(header, values, strict=False)))
    except csv.Error as exc:
        raise UnreadableFile(f"第{reader.line_num}行CSV格式错误 (malformed CSV at line {reader.line_num})") from exc
    return header, rows
