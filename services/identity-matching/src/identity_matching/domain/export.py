"""The matches export: one line per match in force, in a fixed column order."""

from __future__ import annotations

import csv
import io

from aid_chassis.exports import spreadsheet_safe
from identity_matching.domain.matching import ENTRY, FIELD, ITEM, REPEATED_STUDENT

COLUMNS = ("id_number", "name", "school_code", "stage", "enrolment_region", "household_region", "categories",
           "poverty_status", "name_mismatch", "review")


def row(canonical: str) -> list[str]:
    """A stored match (``MatchFacts.canonical_text()``) as export columns; categories sorted and ';'-joined."""
    *student, mismatch, others, _batches, entries = canonical.split(FIELD)
    categories = [entry.split(ENTRY) for entry in entries.split(ITEM)]
    statuses = sorted({status for _, _, status, _ in categories if status})
    return [*student, ";".join(sorted({c[0] for c in categories})), ";".join(statuses),
            "true" if mismatch == "1" else "false", REPEATED_STUDENT if others else ""]


def csv_line(values: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([spreadsheet_safe(v) for v in values])
    return buf.getvalue()


def header_of(columns) -> str:
    return csv_line(list(columns))


def header() -> str:
    return header_of(COLUMNS)


def line(canonical: str) -> str:
    return csv_line(row(canonical))
