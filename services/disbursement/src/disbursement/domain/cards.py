"""Bank cards (银行卡): validated, encrypted at rest (``aid_chassis.fields``: AES-256-GCM under a key ring,
fields ``card`` and ``phone`` bound to the student key), masked everywhere but the bank file."""

from __future__ import annotations

BANKS = {  # 代发银行 (bank codes in the payment file)
    "ICBC": "中国工商银行", "ABC": "中国农业银行", "BOC": "中国银行", "CCB": "中国建设银行",
    "BOCOM": "交通银行", "PSBC": "中国邮政储蓄银行", "RCC": "农村信用社/农商银行",
}


class CardRefused(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_card(bank: str, number: str) -> str:
    """The card number without spaces, or CardRefused saying which field and why."""
    if bank not in BANKS:
        raise CardRefused("unknown_bank", f"银行代码不在代码表中 (bank must be one of: {', '.join(BANKS)})")
    digits = number.replace(" ", "").strip()
    if not digits.isdigit() or not 12 <= len(digits) <= 19:
        raise CardRefused("bad_card", "银行卡号须为 12-19 位数字 (the card number must have 12-19 digits)")
    return digits


def mask_card(number: str) -> str:
    """``6222020200112233445`` → ``6222 **** **** 3445``."""
    return f"{number[:4]} **** **** {number[-4:]}"
