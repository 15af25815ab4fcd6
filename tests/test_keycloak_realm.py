"""deploy/keycloak/aid-realm.json gives the services what they read from a token: every role,
each jurisdiction claim, the audience, and a feed client per department."""

from __future__ import annotations

import json
from pathlib import Path

from aid_chassis.auth import Role
from aid_chassis.settings import ServiceSettings
from identity_matching.settings import Settings as MatchingSettings

REALM = json.loads((Path(__file__).parents[1] / "deploy/keycloak/aid-realm.json").read_text(encoding="utf-8"))
CLAIMS = {"role", "region", "school_code", "stage", "department"}  # what auth.TokenVerifier reads
AUDIENCE = ServiceSettings.model_fields["jwt_audience"].default


def _client(client_id: str) -> dict:
    return next(c for c in REALM["clients"] if c["clientId"] == client_id)


def _claims(client: dict) -> dict[str, str | None]:
    """claim name → hard-coded value (None: from the user's attribute of that name)."""
    found = {}
    for mapper in client["protocolMappers"]:
        config = mapper["config"]
        assert config["access.token.claim"] == "true", mapper["name"]
        if mapper["protocolMapper"] == "oidc-usermodel-attribute-mapper":
            assert config["user.attribute"] == config["claim.name"]
            found[config["claim.name"]] = None
        elif mapper["protocolMapper"] == "oidc-hardcoded-claim-mapper":
            found[config["claim.name"]] = config["claim.value"]
        else:
            assert (mapper["protocolMapper"], config["included.custom.audience"]) == ("oidc-audience-mapper", AUDIENCE)
            found["aud"] = AUDIENCE
    return found


def test_every_role_is_a_realm_role_and_a_choice_of_the_role_attribute():
    assert {r["name"] for r in REALM["roles"]["realm"]} == {r.value for r in Role}
    [profile] = REALM["components"]["org.keycloak.userprofile.UserProfileProvider"]
    attributes = {a["name"]: a for a in json.loads(profile["config"]["kc.user.profile.config"][0])["attributes"]}
    assert CLAIMS <= set(attributes)
    assert set(attributes["role"]["validations"]["options"]["options"]) == {r.value for r in Role}
    assert all(attributes[c]["permissions"]["edit"] == ["admin"] for c in CLAIMS)  # nobody widens their own scope


def test_people_get_every_jurisdiction_claim_and_the_audience():
    console = _client("aid-console")
    assert _claims(console) == {**dict.fromkeys(CLAIMS), "aud": AUDIENCE}
    assert console["publicClient"] and console["attributes"]["pkce.code.challenge.method"] == "S256"


def test_each_department_pushes_with_its_own_client_credentials():
    departments = MatchingSettings.model_fields["departments"].default
    for department in departments:
        client = _client(f"feed-{department}")
        assert client["serviceAccountsEnabled"] and not client["publicClient"] and not client["standardFlowEnabled"]
        assert _claims(client) == {"role": "department", "department": department, "aud": AUDIENCE}
