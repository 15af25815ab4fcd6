"""The simulated bank of the walking skeleton: it pays every well-formed instruction.

The real bank-file exchange (payment file out, result file back, reconciliation) replaces
it in the disbursement issue; the seam is ``settle``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class BankResult:
    payment_id: str
    paid: bool
    reference: str


def settle(payment_ids: list[str]) -> list[BankResult]:
    return [BankResult(pid, True, "SIM" + hashlib.sha256(pid.encode()).hexdigest()[:16].upper())
            for pid in payment_ids]
