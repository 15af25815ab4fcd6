"""Every code an event may carry has its Chinese word."""

from aid_contracts import labels
from aid_contracts.events import Category, PovertyStatus, Stage, VerificationStatus


def test_every_enum_value_is_labelled():
    assert set(labels.CATEGORY) == {c.value for c in Category}
    assert set(labels.POVERTY_STATUS) == {p.value for p in PovertyStatus}
    assert set(labels.STAGE) == {s.value for s in Stage}
    assert {v.value for v in VerificationStatus} < set(labels.STUDENT_STATUS)


def test_labels_join_and_unknown_codes_show_as_themselves():
    assert labels.labels(labels.CATEGORY, ["registered_poor", "orphan"]) == "建档立卡、孤儿"
    assert (labels.label(labels.STAGE, "new_stage"), labels.label(labels.STAGE, None)) == ("new_stage", "")
