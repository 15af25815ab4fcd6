import pytest
from pydantic import BaseModel, ValidationError

from aid_chassis.consumer import describe_error
from aid_chassis.masking import mask_id_number, mask_name
from aid_chassis.settings import ServiceSettings


def _settings(**env):
    return ServiceSettings(service_name="t", database_url=env.pop("url", "postgresql://u@h/db"),
                           jwt_public_key_file="/dev/null", **env)


def test_database_url_is_normalised_to_psycopg3(monkeypatch):
    monkeypatch.setenv("AID_PSEUDONYM_KEY", "a-real-secret-of-enough-length")
    assert _settings().database_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize("secret", ["changeme", "short", ""])
def test_placeholder_secrets_are_refused(monkeypatch, secret):
    monkeypatch.setenv("AID_PSEUDONYM_KEY", secret)
    with pytest.raises(ValidationError, match="AID_PSEUDONYM_KEY"):
        _settings()


def test_missing_secret_is_refused(monkeypatch):
    monkeypatch.delenv("AID_PSEUDONYM_KEY", raising=False)
    with pytest.raises(ValidationError):
        _settings()


def test_masks():
    assert mask_id_number("110101201001011234") == "1101**********1234"
    assert mask_name("张三") == "张*"
    assert mask_name("张小三") == "张*三"
    assert mask_name("欧阳小明") == "欧**明"


def test_error_description_never_carries_input_values():
    class M(BaseModel):
        id_number: int

    with pytest.raises(ValidationError) as info:
        M(id_number="11010120100101123X")
    text = describe_error(info.value)
    assert "id_number" in text
    assert "11010120100101123X" not in text
