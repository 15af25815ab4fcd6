"""A stand-in bank for demos and tests: reads a payment file (CSV) and answers with a return file.

Production banks are reached by the bureau exchanging these files; this only plays the bank's part.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date


def answer(payment_file: bytes, *, fail: set[str] = frozenset(), on: date | None = None,
           failure_code: str = "E1021") -> bytes:
    """The return file for a payment file: every line paid except the payment ids in ``fail``."""
    rows = list(csv.reader(io.StringIO(payment_file.decode("utf-8"))))
    head, details = rows[0], [r for r in rows if r and r[0] == "D"]
    day = f"{on or date.today():%Y%m%d}"
    lines, ok_count, ok_total, total = [], 0, 0, 0
    for _, seq, payment_id, _name, _id, _bank, _card, amount in details:
        success = payment_id not in fail
        reference = "BK" + hashlib.sha256(payment_id.encode()).hexdigest()[:14].upper() if success else ""
        lines.append(["R", seq, payment_id, amount, "S" if success else "F", "0000" if success else failure_code,
                      reference, day])
        total += int(amount)
        if success:
            ok_count, ok_total = ok_count + 1, ok_total + int(amount)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["H", head[1], len(lines), total])
    writer.writerows(lines)
    writer.writerow(["T", len(lines), ok_count, ok_total])
    return out.getvalue().encode()


def card_for(id_number: str) -> str:
    """A made-up 19-digit UnionPay-style card number for a demo student."""
    digits = "".join(str(int(c, 16) % 10) for c in hashlib.sha256(id_number.encode()).hexdigest()[:13])
    return "622202" + digits
