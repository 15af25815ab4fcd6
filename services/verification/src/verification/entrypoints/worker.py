"""verification's worker: applies matches to tasks and relays ``verified``."""

from aid_chassis.worker import consumer_and_relay
from aid_contracts import StudentMatched, StudentMatchWithdrawn
from aid_contracts.topics import Topic
from verification.adapters import tables
from verification.service_layer import handlers


def build_loops(settings, sessions):
    return consumer_and_relay(settings, sessions, tables.chassis, topics=[Topic.STUDENT_MATCHED.value], handlers={
        StudentMatched.EVENT_TYPE: handlers.on_student_matched,
        StudentMatchWithdrawn.EVENT_TYPE: handlers.on_match_withdrawn,
    })
