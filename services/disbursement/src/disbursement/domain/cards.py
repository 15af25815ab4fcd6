"""Bank cards (银行卡): validated, encrypted at rest (AES-256-GCM), masked everywhere but the bank file."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

import polars as pl
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

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


@dataclass(frozen=True)
class CardCipher:
    """AES-256-GCM with a random nonce per card; the student key is bound as associated data,
    so a ciphertext moved to another student's row does not decrypt."""

    key: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "_aead", AESGCM(self.key))  # built once: a million cards per bank file

    @classmethod
    def from_text(cls, text: str) -> CardCipher:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        if len(key) != 32:
            raise ValueError("DISBURSEMENT_CARD_KEY must be 32 bytes, base64url-encoded")
        return cls(key)

    @staticmethod
    def new_key_text() -> str:
        return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")

    def encrypt(self, number: str, student_key: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, number.encode(), student_key.encode())

    def decrypt(self, blob: bytes, student_key: str) -> str:
        return self._aead.decrypt(blob[:12], blob[12:], student_key.encode()).decode()

    def decrypt_all(self, blobs, student_keys) -> list[str]:
        """``decrypt`` over two polars series (binary blobs, text keys): a bank file's million cards."""
        open_ = self._aead.decrypt
        keys = student_keys.cast(pl.Binary).to_list()
        return [open_(blob[:12], blob[12:], key).decode() for blob, key in zip(blobs.to_list(), keys, strict=True)]
