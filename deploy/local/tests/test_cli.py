import jwt
import pytest
from typer.testing import CliRunner

from aid_local.cli import app

COMMANDS = ["up", "down", "status", "lag", "token", "trace", "demo", "run", "import roster", "import list",
            "matches export", "matches candidates", "rebuild", "audit verify", "dlq list", "dlq replay"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help(command):
    result = CliRunner().invoke(app, [*command.split(), "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_token_carries_role_and_jurisdiction(tmp_path):
    result = CliRunner().invoke(app, ["token", "school", "--school-code", "5201020001", "--state-dir", str(tmp_path)])
    assert result.exit_code == 0
    claims = jwt.decode(result.output.strip(), options={"verify_signature": False})
    assert (claims["role"], claims["school_code"], claims["iss"]) == ("school", "5201020001", "aid-dev-issuer")
    assert (tmp_path / "keys" / "dev-jwt-public.pem").exists()


def test_trace_of_an_unknown_id_says_so(tmp_path):
    result = CliRunner().invoke(app, ["trace", "0" * 32, "--state-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "no spans" in result.output


def test_fresh_state_refuses_a_directory_that_is_not_platform_state(tmp_path):
    (tmp_path / "thesis.docx").write_text("precious")
    result = CliRunner().invoke(app, ["run", "--state-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert (tmp_path / "thesis.docx").read_text() == "precious"
