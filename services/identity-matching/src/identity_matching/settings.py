from datetime import date

from pydantic import SecretStr

from aid_chassis.settings import ServiceSettings, field_keys_required, service_config
from identity_matching.domain.matching import EligibilityPolicy


class Settings(ServiceSettings):
    model_config = service_config("IDENTITY_MATCHING_")

    service_name: str = "identity-matching"
    field_keys: SecretStr = field_keys_required()  # AID_FIELD_KEYS: its data holds students' names and IDs
    http_port: int = 8101
    departments: list[str] = ["poverty_office", "civil_affairs", "disabled_federation", "trade_union"]
    assessment_year: int | None = None  # the year eligibility is judged in; None: the current year
    exit_grace_years: int = 3  # 已脱贫 families keep aid this many years after exit (FAQ Q34)

    def policy(self) -> EligibilityPolicy:
        return EligibilityPolicy(year=self.assessment_year or date.today().year,
                                 exit_grace_years=self.exit_grace_years)
