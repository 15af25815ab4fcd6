"""verification's worker: matches become tasks, payments are remembered; relays ``verified``."""

from aid_chassis.worker import consumer_and_relay
from aid_contracts import Paid, StudentMatched, StudentMatchWithdrawn
from aid_contracts.topics import Topic
from verification.adapters import tables
from verification.service_layer import distribution, followups


def build_loops(settings, sessions):
    return consumer_and_relay(settings, sessions, tables.chassis, topics=[Topic.STUDENT_MATCHED.value, Topic.PAID.value],
                              handlers={
                                  StudentMatched.EVENT_TYPE: distribution.on_student_matched,
                                  StudentMatchWithdrawn.EVENT_TYPE: distribution.on_match_withdrawn,
                                  Paid.EVENT_TYPE: followups.on_paid,
                              })
