"""query's chained audit log: exports of views and reveals of whole ID numbers."""

from aid_chassis import audit
from query.adapters import tables

log = audit.logger(tables.audit_log, tables.chassis.outbox, "query")
