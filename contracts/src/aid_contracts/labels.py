"""The words officials read (docs/glossary.md in code): Chinese labels of the codes in events.

Exports, reports and the console show these; the codes stay in the data.
"""

from __future__ import annotations

CATEGORY = {"registered_poor": "建档立卡", "minimum_allowance": "城乡低保", "extreme_poverty": "特困救助供养",
            "orphan": "孤儿", "disabled": "残疾", "needy_worker_family": "困难职工家庭"}
POVERTY_STATUS = {"not_out": "未脱贫", "out": "已脱贫", "back_in": "返贫"}
STAGE = {"preschool": "学前", "primary": "小学", "junior": "初中", "senior": "高中", "vocational": "中职",
         "higher": "高等教育"}
STUDENT_STATUS = {"matched": "待核对", "withdrawn": "比对已撤销", "verified_unchanged": "已核对未更新数据",
                  "verified_updated": "已核对更新了部分数据", "invalid": "无效数据"}
ORIGIN = {"matched": "比对下发", "supplementary": "学校补录"}
AID_STATUS = {"published": "公示中", "final": "公示结束", "removed": "已移出名单", "payment_failed": "发放失败",
              "paid": "已发放"}
UNFUNDED_REASON = {"not_enrolled_anymore": "已不在校", "funded_elsewhere": "已在其他学校/项目资助",
                   "family_declined": "家庭放弃", "not_eligible_stage": "学段无对应资助项目", "other": "其他"}
DIMENSION = {"enrolment": "学籍所在地", "household": "户籍所在地"}
CHECK_ANSWER = {"confirmed_correct": "核实无误", "corrected": "已更正", "wrongly_funded": "不应资助，已处理", "other": "其他"}


def label(table: dict[str, str], code: str | None) -> str:
    """The Chinese word for a code; an unknown code shows as itself, nothing shows as empty."""
    return "" if code is None else table.get(code, code)


def labels(table: dict[str, str], codes) -> str:
    """Several codes as one cell: 建档立卡、孤儿."""
    return "、".join(label(table, c) for c in codes)
