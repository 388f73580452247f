"""`make run` works without a .env: the gateway's operator token comes from the environment, the .env
file, or a file made once under var/ — and the launcher says which."""

from __future__ import annotations

from pathlib import Path

from tools.launcher import operator_token


def test_without_environment_or_dotenv_a_private_token_file_is_made_once(tmp_path: Path) -> None:
    token, source = operator_token(tmp_path / "var", environ={}, dotenv=tmp_path / ".env")
    path = tmp_path / "var" / "operator-token"
    assert source == str(path) and len(token) >= 40 and path.stat().st_mode & 0o077 == 0
    assert operator_token(tmp_path / "var", environ={}, dotenv=tmp_path / ".env") == (token, source)  # kept


def test_the_environment_and_then_dotenv_win(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("# EMHANA_GATEWAY_OPERATOR_TOKEN=commented\nEMHANA_GATEWAY_OPERATOR_TOKEN=from-file  # note\n")
    assert operator_token(tmp_path, environ={}, dotenv=dotenv) == ("from-file", str(dotenv))
    environ = {"EMHANA_GATEWAY_OPERATOR_TOKEN": "from-env"}
    assert operator_token(tmp_path, environ=environ, dotenv=dotenv) == ("from-env", "EMHANA_GATEWAY_OPERATOR_TOKEN")
    assert not (tmp_path / "operator-token").exists()
