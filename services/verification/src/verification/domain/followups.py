"""Code lists for the follow-up work of schools: unfunded reasons and abnormal-record checks."""

from __future__ import annotations

from verification.domain.tasks import MAX_TEXT, VerificationRefused

UNFUNDED_REASONS = {  # 建档立卡学生未资助原因
    "not_enrolled_anymore": "已不在校 (no longer enrolled)",
    "funded_elsewhere": "已在其他学校/项目资助 (funded elsewhere)",
    "family_declined": "家庭放弃 (family declined)",
    "not_eligible_stage": "学段无对应资助项目 (no programme for the stage)",
    "other": "其他 (other, explained in text)",
}
CHECK_ANSWERS = {  # 异常数据核查结果
    "confirmed_correct": "核实无误 (the record is correct)",
    "corrected": "已更正 (corrected, explained in text)",
    "wrongly_funded": "不应资助，已处理 (should not have been funded; handled)",
    "other": "其他 (other, explained in text)",
}
NEEDS_TEXT = {"other", "corrected"}


def check_coded(code: str, text: str | None, codes: dict[str, str], field: str) -> None:
    """A code from ``codes``; text where the code needs an explanation."""
    if code not in codes:
        raise VerificationRefused("unknown_reason", f"{field} 不在代码表中 ({field} must be one of: {', '.join(codes)})")
    if code in NEEDS_TEXT and not (text or "").strip():
        raise VerificationRefused("missing_text", f"{field} 为 {code} 时须填写说明 (text is required for {code})")
    if len(text or "") > MAX_TEXT:
        raise VerificationRefused("text_too_long", f"说明不超过 {MAX_TEXT} 字 (text is at most {MAX_TEXT} characters)")
