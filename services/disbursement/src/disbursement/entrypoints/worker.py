"""disbursement's worker: payments from final lists (and whose students they are, from approvals
and lists), the outbox relay, payment notices."""

from functools import partial
from pathlib import Path

from aid_chassis.worker import after_data_keys, consumer_and_relay, periodic
from aid_contracts import Published, Verified
from aid_contracts.topics import Topic
from disbursement.adapters import tables
from disbursement.service_layer import accounts, notify


def channel(settings):
    """The notice channel: an SMS gateway where configured, else a local file."""
    if settings.notify_channel == "sms" and settings.sms_gateway_url:
        token = settings.sms_gateway_token.get_secret_value() if settings.sms_gateway_token else None
        return notify.SmsGatewayChannel(settings.sms_gateway_url, token)
    return notify.FileChannel(settings.notify_file or Path("notifications.jsonl"))


def build_loops(settings, sessions):
    loops = consumer_and_relay(settings, sessions, tables.chassis, topics=[Topic.VERIFIED.value, Topic.PUBLISHED.value],
                               handlers={Verified.EVENT_TYPE: accounts.on_verified,
                                         Published.EVENT_TYPE: accounts.on_published},
                               opens_fields=True)  # the payment notices name the student
    notifier = periodic(sessions, partial(notify.deliver_due, channel=channel(settings), cipher=settings.cipher(),
                                          max_attempts=settings.notify_max_attempts, fields=settings.field_cipher()),
                        every=settings.notify_every_seconds, name="delivering payment notices")
    return [*loops, after_data_keys(settings, notifier)]  # a notice names the student
