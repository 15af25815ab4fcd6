"""A generated demo province: counties, schools, a roster and one list from each department.

Deterministic for a given seed. Some list entries are people who are not students, some
spell a name differently, and a few rows are malformed so the import report shows rejections.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from datetime import date

from aid_contracts.keys import check_digit

COUNTIES = {"520102": "南明区", "520103": "云岩区", "520111": "花溪区", "520113": "白云区", "520181": "清镇市"}
STAGES = (("primary", 6, 12), ("junior", 12, 15), ("senior", 15, 18), ("vocational", 15, 18))
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红"
DEPARTMENTS = {
    "poverty_office": ("registered_poor",),
    "civil_affairs": ("minimum_allowance", "extreme_poverty", "orphan"),
    "disabled_federation": ("disabled",),
    "trade_union": ("needy_worker_family",),
}
ROSTER_HEADER = ["身份证号", "姓名", "学校代码", "学段", "学籍所在地", "户籍所在地"]
LIST_HEADER = ["身份证号", "姓名", "类别", "户籍所在地", "脱贫状态", "脱贫年份"]


@dataclass(frozen=True)
class Student:
    id_number: str
    name: str
    school_code: str
    stage: str
    enrolment_region: str
    household_region: str


@dataclass
class DemoProvince:
    students: list[Student]
    lists: dict[str, list[list[str]]]
    schools: dict[str, tuple[str, str]]  # school code → (county, stage)

    def roster_csv(self) -> bytes:
        rows = [[s.id_number, s.name, s.school_code, s.stage, s.enrolment_region, s.household_region]
                for s in self.students]
        return _csv(ROSTER_HEADER, rows)

    def list_csv(self, department: str) -> bytes:
        return _csv(LIST_HEADER, self.lists[department])


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8-sig")


def id_number(rng: random.Random, region: str, born: date) -> str:
    body = f"{region}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return body + check_digit(body)


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


@dataclass(frozen=True)
class ListShape:
    """How the department lists relate to the roster."""

    on_a_list: float = 0.15  # share of students on a department's list
    on_two_lists: float = 0.0  # share of those also on a second department's list
    outsiders: float = 0.2  # people who are not students, per student on a list


def generate(students: int = 3000, *, seed: int = 2026, schools_per_county: int = 4, today: date | None = None,
             shape: ListShape = ListShape()) -> DemoProvince:
    """A province of ``students``; a large one (benchmarks) may put a third or more of them on lists."""
    rng = random.Random(seed)
    year = (today or date.today()).year
    schools = {f"{county}{n:04d}": (county, STAGES[n % len(STAGES)][0])
               for county in COUNTIES for n in range(1, schools_per_county + 1)}
    codes = sorted(schools)
    roster, seen = [], set()
    while len(roster) < students:
        code = rng.choice(codes)
        county, stage = schools[code]
        low, high = next((lo, hi) for s, lo, hi in STAGES if s == stage)
        household = county if rng.random() < 0.85 else rng.choice(list(COUNTIES))
        born = date(year - rng.randrange(low, high), rng.randrange(1, 13), rng.randrange(1, 29))
        number = id_number(rng, household, born)
        if number not in seen:
            seen.add(number)
            roster.append(Student(number, _name(rng), code, stage, county, household))
    return DemoProvince(roster, _lists(rng, roster, year, shape), schools)


def _lists(rng: random.Random, roster: list[Student], year: int, shape: ListShape) -> dict[str, list[list[str]]]:
    lists: dict[str, list[list[str]]] = {d: [] for d in DEPARTMENTS}
    names = list(DEPARTMENTS)
    for student in roster:
        if rng.random() < shape.on_a_list:
            chosen = rng.sample(names, 2) if shape.on_two_lists and rng.random() < shape.on_two_lists else [
                rng.choice(names)]
            name = student.name if rng.random() > 0.03 else student.name[0] + "某"
            for department in chosen:
                lists[department].append(
                    _list_row(rng, department, student.id_number, name, student.household_region, year))
    for department, rows in lists.items():
        for _ in range(max(3, int(len(rows) * shape.outsiders))):  # people on a list who are not students
            region = rng.choice(list(COUNTIES))
            born = date(year - rng.randrange(25, 32), 5, 5) if len(rows) < 10_000 else date(
                year - rng.randrange(25, 31), rng.randrange(1, 13), rng.randrange(1, 29))
            number = id_number(rng, region, born)  # codes in use since 1995
            rows.append(_list_row(rng, department, number, _name(rng), region, year))
        rows.append(["52010220100101001", _name(rng), DEPARTMENTS[department][0], "520102", "", ""])  # 17 digits
        rows.append([rows[0][0][:-1] + ("0" if rows[0][0][-1] != "0" else "1"), _name(rng),
                     DEPARTMENTS[department][0], "520102", "", ""])  # wrong check digit
    return lists


def _list_row(rng: random.Random, department: str, number: str, name: str, region: str, year: int) -> list[str]:
    category = rng.choice(DEPARTMENTS[department])
    if category != "registered_poor":
        return [number, name, category, region, "", ""]
    status = rng.choice(("not_out", "out", "back_in"))
    return [number, name, category, region, status, str(year - 2) if status == "out" else ""]
