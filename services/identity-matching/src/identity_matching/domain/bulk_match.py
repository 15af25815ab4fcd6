"""Matching and re-comparison over whole columns: the province-scale path of ``matching``.

``matching.match`` and ``matching.compare`` say what a match is for one person; this module
computes the same for every affected person at once (tests hold it to the reference), and
builds the stored canonical text and the event data (JSON) in the same pass.

Frames (all text unless said):
- enrolments: student_key, id_number, name, school_code, stage, enrolment_region, household_region
- findings:   student_key, department, category, name, poverty_status, exit_year (Int16), batch_id
- priors:     student_key, match_id, revision (Int32), fingerprint, active (Boolean), school_code
"""

from __future__ import annotations

import time
from functools import cache

import polars as pl
import polars_hash

from identity_matching.domain.columnar import in_parts
from identity_matching.domain.matching import ENTRY, FIELD, ITEM, REPEATED_STUDENT, EligibilityPolicy

STUDENT = ("id_number", "name", "school_code", "stage", "enrolment_region", "household_region")
ENTRY_FIELDS = ("category", "department", "poverty_status", "exit_year")


def counts(policy: EligibilityPolicy) -> pl.Expr:
    """``EligibilityPolicy.counts`` as an expression over findings."""
    out = (pl.col("poverty_status") == "out") & pl.col("exit_year").is_not_null()
    return ~out | (pl.col("exit_year").cast(pl.Int32) + policy.exit_grace_years >= policy.year)


def current_matches(enrolments: pl.DataFrame, findings: pl.DataFrame, policy: EligibilityPolicy) -> pl.DataFrame:
    """One row per matched person: the student (first school by code), the others, categories, flags."""
    ordered = enrolments.sort("student_key", "school_code")
    students = ordered.group_by("student_key", maintain_order=True).agg(
        *[pl.col(f).first() for f in STUDENT], pl.col("school_code").slice(1).alias("other_school_codes"))
    del ordered  # each step's frames let go as soon as the next is made: a province's round holds ~1.5 GB here
    counted = findings.filter(counts(policy)).join(
        students.select("student_key", pl.col("name").alias("_enrolled_name")), on="student_key")
    per_person = _per_person(counted)
    del counted
    matched = students.join(per_person, on="student_key", how="inner")
    del students, per_person
    canonical = pl.concat_str([*[pl.col(f) for f in STUDENT], pl.when("name_mismatch").then(pl.lit("1")).otherwise(
        pl.lit("0")), pl.col("other_school_codes").list.join(ITEM), pl.col("_batches"), pl.col("_entries")],
        separator=FIELD)
    matched = matched.with_columns(
        canonical.alias("canonical"),
        pl.when(pl.col("other_school_codes").list.len() > 0).then(pl.lit([REPEATED_STUDENT]))
        .otherwise(pl.lit([], dtype=pl.List(pl.String))).alias("review"))
    if matched["canonical"].null_count():  # a null field: its fingerprint would be null, the match not current
        raise ValueError("a match's canonical text lacks a field")
    prints = polars_hash.col("canonical").chash.sha2_256().alias("fingerprint")  # = matching.fingerprint
    return matched.with_columns(in_parts(matched.select("canonical"), prints)["fingerprint"]).drop("_entries", "_batches")


def _per_person(counted: pl.DataFrame) -> pl.DataFrame:
    """Each person's entries (by category, then department), name flag and source batches, with
    their texts for the canonical one (``_entries``, ``_batches``). A person with one counted row
    (~9 in 10: on one list, in one category) is taken as is; only those with several are grouped
    (a group's texts joined per group took a province's round 0.5 s more)."""
    entry = pl.concat_str([pl.col(f).cast(pl.String).fill_null("") for f in ENTRY_FIELDS], separator=ENTRY)
    rows = counted.with_columns(entry.alias("_entries"), pl.len().over("student_key").alias("_rows"),
                                (pl.col("name") != pl.col("_enrolled_name")).fill_null(False).alias("name_mismatch"))
    has_batch = pl.col("batch_id") != ""  # (null: none)
    one = rows.filter(pl.col("_rows") == 1).select(
        "student_key", pl.concat_list(pl.struct(*ENTRY_FIELDS)).alias("categories"), "_entries", "name_mismatch",
        pl.when(has_batch).then(pl.concat_list("batch_id")).otherwise(pl.lit([], dtype=pl.List(pl.String)))
        .alias("source_batches"), pl.when(has_batch).then("batch_id").otherwise(pl.lit("")).alias("_batches"))
    many = rows.filter(pl.col("_rows") > 1).sort("student_key", "category", "department").group_by(
        "student_key", maintain_order=True).agg(
        pl.struct(*ENTRY_FIELDS).alias("categories"), "_entries", pl.col("name_mismatch").any(),
        pl.col("batch_id").filter(has_batch).alias("source_batches"))
    many = many.with_columns(pl.col("_entries").list.join(ITEM), pl.col("source_batches").list.unique().list.sort()
                             ).with_columns(pl.col("source_batches").list.join(ITEM).alias("_batches"))
    return pl.concat([one, many], rechunk=True)  # joined on a frame of two chunks: 8 times as long


def changes(current: pl.DataFrame, priors: pl.DataFrame, comparison: int) -> pl.DataFrame:
    """``matching.compare`` for every person in either frame: rows of kind new, changed or withdrawn
    (new matches' ids made by ``match_ids`` for the comparison numbered ``comparison``)."""
    joined = current.join(priors.rename({"fingerprint": "_prior_fp", "school_code": "_prior_school"}),
                          on="student_key", how="full", coalesce=True)
    has_now, had = pl.col("fingerprint").is_not_null(), pl.col("active").fill_null(False)
    kind = (pl.when(has_now & ~had).then(pl.lit("new"))
            .when(has_now & (pl.col("fingerprint") != pl.col("_prior_fp"))).then(pl.lit("changed"))
            .when(~has_now & had).then(pl.lit("withdrawn")))
    found = joined.with_columns(kind.alias("kind")).filter(pl.col("kind").is_not_null())
    new_ids = match_ids(found.height, comparison)
    return found.with_columns(
        pl.col("match_id").fill_null(new_ids),
        (pl.col("revision").fill_null(0) + 1).cast(pl.Int32).alias("revision"),
        pl.coalesce("school_code", "_prior_school").alias("school_code"),
        (pl.col("kind") != "withdrawn").alias("active")).drop("_prior_fp", "_prior_school")


def match_ids(count: int, comparison: int) -> pl.Series:
    """New match ids, in increasing order: time, sequence, comparison — ``M{ms:011x}{n:07x}{comparison:08x}``.
    Unique by construction: the comparisons are numbered one at a time (``rematch``) and a sequence
    number is never given twice in one, whatever the clock does, so no index has to check them
    (the one ``matches`` had cost a province's round 0.6–1.4 s of ``COPY``). The time keeps them
    in the order they were made. The sequence's hex digits are looked up as columns (a round's
    600,000 f-strings took 0.4 s)."""
    if count >= 16 ** 7:
        raise ValueError(f"{count} match ids at once: at most {16 ** 7 - 1}")
    if not 0 <= comparison < 16 ** 8:
        raise ValueError(f"comparison number {comparison}: ids have room for 0 to {16 ** 8 - 1}")
    stamp = f"{time.time_ns() // 1_000_000:011x}"
    n = pl.int_range(count, dtype=pl.Int64, eager=True)
    return pl.select(pl.concat_str([pl.lit(f"M{stamp}"), _hex(3).gather(n // 16 ** 4), _hex(4).gather(n % 16 ** 4),
                                    pl.lit(f"{comparison:08x}")])).to_series().rename("match_id")


@cache
def _hex(width: int) -> pl.Series:
    """Every number of ``width`` hex digits, as text, in order."""
    return pl.Series([f"{n:0{width}x}" for n in range(16 ** width)], dtype=pl.String)


def _student() -> pl.Expr:
    return pl.struct(*STUDENT).alias("student")


def event_data(found: pl.DataFrame, *, batch_id: str, at: str, reason: str) -> pl.Series:
    """The ``student-matched`` or ``student-match-withdrawn`` data of each row, as JSON text."""
    matched = pl.struct("match_id", "revision", _student(), "categories", "name_mismatch",
                        pl.lit(batch_id).alias("batch_id"), pl.lit(at).alias("matched_at"),
                        pl.col("kind").alias("change"), "review", "other_school_codes",
                        "source_batches").struct.json_encode()
    withdrawn = pl.struct("match_id", "revision", "school_code", pl.lit(reason).alias("reason"),
                          pl.lit(batch_id).alias("batch_id"), pl.lit(at).alias("withdrawn_at")).struct.json_encode()
    active = found["active"]
    if active.all() or not active.any():  # a province's first round: no withdrawal's text made for nothing
        return found.select((matched if active.all() else withdrawn).alias("data"))["data"]
    return found.select(pl.when("active").then(matched).otherwise(withdrawn).alias("data"))["data"]
