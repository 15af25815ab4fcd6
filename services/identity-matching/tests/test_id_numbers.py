from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aid_contracts.keys import check_digit
from aid_contracts import regions
from identity_matching.domain.id_numbers import InvalidIdNumber, to_18, validate

GOOD = "11010519491231002X"
TODAY = date(2026, 11, 22)
CODES = sorted(c for c in regions.codes() if all(regions.valid_in(c, y) for y in range(2000, 2021)))


def _id(region: str, born: date, seq: int) -> str:
    body = f"{region}{born:%Y%m%d}{seq:03d}"
    return body + check_digit(body)


ids = st.builds(_id, st.sampled_from(CODES), st.dates(date(2000, 1, 1), date(2020, 12, 31)), st.integers(0, 999))


def test_valid_number_passes_and_is_normalised():
    assert validate(" 11010519491231002x ") == GOOD
    assert validate("１１０１０５１９４９１２３１００２Ｘ") == GOOD


def test_fifteen_digits_are_converted():
    assert to_18("110105491231002") == GOOD
    assert validate("110105491231002") == GOOD


@pytest.mark.parametrize(("raw", "code"), [
    ("", "empty_id"),
    ("   ", "empty_id"),
    ("1101051949123100", "bad_length"),
    ("11010519491231002Y", "bad_characters"),
    ("110105194912310021", "bad_check_digit"),
    (_id("110105", date(2026, 11, 23), 1), "bad_birth_date"),
    ("11010519491331" + "0021"[:3] + check_digit("11010519491331002"), "bad_birth_date"),
    (_id("990105", date(2010, 1, 1), 1), "unknown_region"),
    (_id("110104", date(2015, 1, 1), 1), "unknown_region"),  # 宣武区 was merged in 2010
])
def test_invalid_numbers_carry_a_reason_code(raw, code):
    with pytest.raises(InvalidIdNumber) as info:
        validate(raw, today=TODAY)
    assert info.value.code == code


def test_a_retired_region_is_valid_for_those_born_while_it_existed():
    assert validate(_id("110104", date(2005, 6, 1), 7), today=TODAY).startswith("110104")


@given(ids)
def test_every_well_formed_number_validates_to_itself(number):
    assert validate(number, today=TODAY) == number


@given(ids, st.sampled_from(["lower", "fullwidth", "spaces"]))
def test_normalisation_is_invariant_to_how_it_was_typed(number, style):
    typed = {"lower": number.lower(),
             "fullwidth": "".join(chr(ord(c) + 0xFEE0) for c in number),
             "spaces": f"  {number}\t"}[style]
    assert validate(typed, today=TODAY) == number


@given(ids, st.integers(0, 16), st.integers(1, 9))
def test_the_check_digit_catches_every_single_digit_change(number, position, delta):
    changed = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1:]
    with pytest.raises(InvalidIdNumber):
        validate(changed, today=TODAY)
