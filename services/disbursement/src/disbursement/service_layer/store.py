"""Persistence helpers shared by disbursement's use cases."""

from __future__ import annotations

from aid_chassis import audit
from disbursement.adapters import tables

P, S = tables.payments.c, tables.payment_states.c


log = audit.logger(tables.audit_log, tables.chassis.outbox, "disbursement")  # the chained audit trail of people's writes
