"""identity-matching's worker: department lists pushed on Kafka, and the outbox relay."""

from functools import partial

from aid_chassis.worker import consumer_and_relay
from aid_contracts import DepartmentRecord, ListImported
from aid_contracts.topics import Topic
from identity_matching.adapters import tables
from identity_matching.service_layer import feeds, imports
from identity_matching.settings import Settings


def build_loops(settings: Settings, sessions):
    by = imports.Importer(actor="department-feed", secret=settings.pseudonym_secret, policy=settings.policy(),
                          fields=settings.field_cipher())
    context = {"by": by, "departments": settings.departments}
    return consumer_and_relay(
        settings, sessions, tables.chassis,
        topics=[Topic.DEPARTMENT_RECORDS.value, Topic.LIST_IMPORTED.value],
        handlers={DepartmentRecord.EVENT_TYPE: partial(feeds.on_record, **context),
                  ListImported.EVENT_TYPE: partial(feeds.on_list_imported, **context)})
