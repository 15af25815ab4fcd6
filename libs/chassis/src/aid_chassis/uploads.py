"""Reading the files schools and bureaus upload: text in UTF-8 (with or without BOM) or
GB18030/GBK, and CSV with Chinese or English headers."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass


MAX_BYTES = 20 * 1024 * 1024


class UploadRefused(ValueError):
    """A file that cannot be read; ``code`` and a message a clerk understands."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class CsvRow:
    row: int  # as a spreadsheet shows it: the header is row 1
    fields: dict[str, str]


def read_csv(content: bytes, headers: dict[str, str], *, needs: list[set[str]]) -> list[CsvRow]:
    """Rows keyed by canonical column name (Chinese headers mapped by ``headers``); blank rows skipped.

    ``needs``: for each set, at least one of its columns must be present. UTF-8 (with or
    without BOM) or GB18030.
    """
    if len(content) > MAX_BYTES:
        raise UploadRefused("file_too_large", f"文件不能大于 20M (the file is larger than {MAX_BYTES} bytes)")
    text = decode(content)
    try:
        reader = csv.reader(io.StringIO(text))
        header = [headers.get(h.strip(), h.strip()) for h in next(reader, [])]
        twice = sorted({h for h in header if h and header.count(h) > 1})
        if twice:
            raise UploadRefused("duplicate_column", f"列名重复 (a column appears twice): {', '.join(twice)}")
        missing = [" / ".join(sorted(need)) for need in needs if not need & set(header)]
        if missing:
            raise UploadRefused("bad_columns", f"文件缺少列 (the file lacks the columns): {'; '.join(missing)}")
        return [CsvRow(n, dict(zip(header, (v.strip() for v in values), strict=False)))
                for n, values in enumerate(reader, start=2) if any(v.strip() for v in values)]
    except csv.Error as exc:
        raise UploadRefused("bad_csv", f"不是有效的 CSV 文件 (not a valid CSV file: {exc})") from None


def decode(content: bytes) -> str:
    """The text of an uploaded file: UTF-8 (with or without BOM), else GB18030 (which covers GBK)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UploadRefused("bad_encoding", "文件编码无法识别，请另存为 UTF-8 或 GBK (save the file as UTF-8 or GBK)")
