"""The matches export: one line per match in force, in a fixed column order."""

from __future__ import annotations

import csv
import io

from identity_matching.domain.files import spreadsheet_safe

COLUMNS = ("id_number", "name", "school_code", "stage", "enrolment_region", "household_region", "categories",
           "poverty_status", "name_mismatch", "review")


def row(facts: dict) -> list[str]:
    """A stored match (``MatchFacts.document()``) as export columns; categories sorted and ';'-joined."""
    student, categories = facts["student"], facts["categories"]
    statuses = sorted({c["poverty_status"] for c in categories if c.get("poverty_status")})
    return [student["id_number"], student["name"], student["school_code"], student["stage"],
            student["enrolment_region"], student["household_region"],
            ";".join(sorted({c["category"] for c in categories})), ";".join(statuses),
            "true" if facts["name_mismatch"] else "false", ";".join(facts.get("review", []))]


def csv_line(values: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([spreadsheet_safe(v) for v in values])
    return buf.getvalue()


def header_of(columns) -> str:
    return csv_line(list(columns))


def header() -> str:
    return header_of(COLUMNS)


def line(facts: dict) -> str:
    return csv_line(row(facts))
