"""identity-matching's chained audit log: who imported which file, who changed which institution."""

from aid_chassis import audit
from identity_matching.adapters import tables

log = audit.logger(tables.audit_log, tables.chassis.outbox, "identity-matching")
