from datetime import date

import pytest

from aid_contracts.keys import check_digit
from identity_matching.domain.id_numbers import InvalidIdNumber, to_18, validate

GOOD = "11010519491231002X"


def test_valid_number_passes_and_is_normalised():
    assert validate(" 11010519491231002x ") == GOOD
    assert validate("１１０１０５１９４９１２３１００２Ｘ") == GOOD


def test_fifteen_digits_are_converted():
    assert to_18("110105491231002") == GOOD
    assert validate("110105491231002") == GOOD


@pytest.mark.parametrize(("raw", "why"), [
    ("1101051949123100", "18"),
    ("11010519491231002Y", "非法字符"),
    ("99010519491231002X", "地区码"),
    ("110105194913310021", "出生日期"),
    ("110105194912310021", "校验位"),
])
def test_invalid_numbers_say_why(raw, why):
    with pytest.raises(InvalidIdNumber, match=why):
        validate(raw)


def test_birth_date_in_the_future_is_refused():
    body = "11010520300101001"
    with pytest.raises(InvalidIdNumber, match="不合理"):
        validate(body + check_digit(body), today=date(2026, 11, 22))
