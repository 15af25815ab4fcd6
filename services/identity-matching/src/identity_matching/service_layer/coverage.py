"""Coverage of a round's lists (名单覆盖): per department, how many people on its list are enrolled
and how many have a match in force once the round is compared — the report's ``not_enrolled``
and ``matched``.

A list whose people were all compared in the round (a new list, a province's first round) is
counted from the comparison itself, nothing read (in the database: 2.5 s for a province's four
lists). Each list's coverage is kept with the number of the comparison it was counted at; when
no other comparison ran since (a roster import, a feed, an accepted review candidate each are
one), the next round moves it by what that round compared — those keys' membership, enrolment
and match before and after — instead of counting the list again (1.8 s for a 250,000-person
list). Any other list is counted in the round's transaction. Counting a replaced list beside the
round, on a connection of its own against the committed state, was tried: on two cores it only
competed with the round's own work (a 250,000-person list's re-import 2.6 s → 6.6 s).
"""

from __future__ import annotations

import polars as pl
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aid_chassis.fields import FieldCipher
from identity_matching.adapters import tables
from identity_matching.service_layer import amended, snapshots
from identity_matching.service_layer.rematch import Compared

Coverage = dict[str, tuple[int, int]]  # department → (enrolled, matched)
PROBE_UP_TO = 50_000  # people on the lists up to which only their parts of the matches are opened


def from_comparison(lists: dict[str, pl.Series], compared: Compared) -> Coverage:
    """The coverage of each list (department → student keys) whose people were all compared."""
    people = pl.concat([keys.to_frame("student_key").with_columns(department=pl.lit(department))
                        for department, keys in lists.items()]).unique()
    status = compared.keys.to_frame("student_key").with_columns(compared=pl.lit(True))  # each key once
    for name, keys in (("enrolled", compared.enrolled), ("matched", compared.matched)):
        status = status.join(keys.to_frame("student_key").with_columns(pl.lit(1).alias(name)), on="student_key",
                             how="left")
    counted = people.join(status, on="student_key", how="left").group_by("department").agg(
        pl.col("compared").is_not_null().all().alias("all_compared"), pl.col("enrolled").sum(),
        pl.col("matched").sum())
    return {department: (enrolled, matched) for department, everyone, enrolled, matched in
            counted.select("department", "all_compared", "enrolled", "matched").iter_rows() if everyone}


async def in_transaction(session: AsyncSession, departments: list[str], people: int, cipher: FieldCipher
                         ) -> Coverage:
    """Per department, of the people on its list: how many are enrolled, how many have a match in force.

    The lists and the roster are opened from their sealed snapshots and joined as frames; the
    matches in force are looked up by key for a few thousand people (a feed), read whole for a
    province's lists."""
    if not departments:
        return {}
    lists = (await snapshots.load(session, snapshots.LIST, cipher, scopes=departments,
                                  columns=["department", "student_key"])).unique()
    enrolled = await snapshots.load(session, snapshots.ROSTER, cipher, columns=["student_key"],
                                    keys=lists["student_key"].unique())
    states = await amended.load(session, amended.STATES, cipher, columns=["student_key", "active"],
                                keys=lists["student_key"].unique() if people <= PROBE_UP_TO else None)
    matched = states.filter(pl.col("active"))
    counted = lists.with_columns(enrolled=pl.col("student_key").is_in(enrolled["student_key"].implode()),
                                 matched=pl.col("student_key").is_in(matched["student_key"].implode()))
    totals = counted.group_by("department").agg(pl.col("enrolled").sum(), pl.col("matched").sum())
    return {department: (int(e), int(m)) for department, e, m in totals.iter_rows()}


async def kept(session: AsyncSession, compared: Compared) -> Coverage:
    """The coverage kept of each list, where no comparison ran between its counting and ``compared``."""
    rows = await session.execute(text("SELECT department, enrolled, matched FROM list_coverage "
                                      "WHERE comparison = :since"), {"since": compared.since})
    return {department: (enrolled, matched) for department, enrolled, matched in rows}


def moved(coverage: Coverage, before: pl.DataFrame, compared: Compared) -> Coverage:
    """``coverage``, as of the comparison before ``compared``, moved by what it compared: its keys'
    (student_key, department) pairs ``before`` and ``compared.listed`` after, enrolled (the same
    roster: a round of lists changes none) and matched then and now."""
    if not coverage:
        return {}

    def counted(pairs: pl.DataFrame, matched: pl.Series) -> dict[str, tuple[int, int]]:
        sums = pairs.unique().group_by("department").agg(
            pl.col("student_key").is_in(compared.enrolled.implode()).sum().alias("enrolled"),
            pl.col("student_key").is_in(matched.implode()).sum().alias("matched"))
        return {department: (enrolled, matched) for department, enrolled, matched in sums.iter_rows()}

    now, then = counted(compared.listed, compared.matched), counted(before, compared.was_matched)
    return {department: tuple(kept + now.get(department, (0, 0))[i] - then.get(department, (0, 0))[i]
                              for i, kept in enumerate(counts))
            for department, counts in coverage.items()}


async def keep(session: AsyncSession, coverage: Coverage, compared: Compared) -> None:
    """Keep each list's coverage as of ``compared``."""
    if not coverage:
        return
    rows = [{"department": department, "enrolled": enrolled, "matched": matched, "comparison": compared.number}
            for department, (enrolled, matched) in coverage.items()]
    statement = insert(tables.list_coverage).values(rows)
    await session.execute(statement.on_conflict_do_update(index_elements=["department"], set_={
        c: statement.excluded[c] for c in ("enrolled", "matched", "comparison")}))
