from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from directory import create_app
from directory.config import ConfigError, load

GOOD_SECRET = "x" * 40


def production(tmp_path: Path, **env: str) -> dict[str, str]:
    return {"DIRECTORY_INSTANCE_PATH": str(tmp_path), **env}


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DIRECTORY_SECRET_KEY is not set"):
        load(environ=production(tmp_path, DIRECTORY_DATA_KEY=Fernet.generate_key().decode()))


def test_production_refuses_to_start_without_a_data_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DIRECTORY_DATA_KEY is not set"):
        load(environ=production(tmp_path, DIRECTORY_SECRET_KEY=GOOD_SECRET))


@pytest.mark.parametrize(
    "secret", ["short", "development-only-secret-key-do-not-use-in-production"])
def test_production_refuses_weak_secret_keys(tmp_path: Path, secret: str) -> None:
    env = production(tmp_path, DIRECTORY_SECRET_KEY=secret,
                     DIRECTORY_DATA_KEY=Fernet.generate_key().decode())
    with pytest.raises(ConfigError, match="too short or a known development value"):
        load(environ=env)


def test_production_refuses_a_malformed_data_key(tmp_path: Path) -> None:
    env = production(tmp_path, DIRECTORY_SECRET_KEY=GOOD_SECRET, DIRECTORY_DATA_KEY="not-a-key")
    with pytest.raises(ConfigError, match="must be a Fernet key"):
        load(environ=env)


def test_production_starts_with_real_keys_and_secure_cookies(tmp_path: Path) -> None:
    keys = f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}"
    settings = load(environ=production(tmp_path, DIRECTORY_SECRET_KEY=GOOD_SECRET,
                                       DIRECTORY_DATA_KEY=keys))
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["DATABASE_URL"] == f"sqlite:///{tmp_path.resolve() / 'directory.db'}"


def test_environment_values_are_parsed_and_bad_ones_named(tmp_path: Path) -> None:
    settings = load(environ=production(tmp_path, DIRECTORY_ENV="development",
                                       DIRECTORY_PUBLIC_LISTINGS="yes", DIRECTORY_PAGE_SIZE="10"))
    assert settings["PUBLIC_LISTINGS"] is True and settings["PAGE_SIZE"] == 10
    with pytest.raises(ConfigError, match="DIRECTORY_PAGE_SIZE"):
        load(environ=production(tmp_path, DIRECTORY_ENV="development", DIRECTORY_PAGE_SIZE="ten"))
    with pytest.raises(ConfigError, match="DIRECTORY_ENV must be one of"):
        load(environ=production(tmp_path, DIRECTORY_ENV="staging"))


def test_demo_mode_generates_keys_once_and_keeps_them(tmp_path: Path) -> None:
    first = load({"ENV": "demo"}, environ=production(tmp_path))
    second = load({"ENV": "demo"}, environ=production(tmp_path))
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    assert first["DATA_KEY"] == second["DATA_KEY"]
    Fernet(first["DATA_KEY"].encode())  # a usable key
    assert (tmp_path / "demo-secrets.json").stat().st_mode & 0o777 == 0o600


def test_create_app_applies_the_mapping_last(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIRECTORY_ENV", "production")
    monkeypatch.setenv("DIRECTORY_INSTANCE_PATH", str(tmp_path))
    app = create_app({"ENV": "testing", "PAGE_SIZE": 7})
    assert app.config["PAGE_SIZE"] == 7 and app.config["TESTING"] is True
    assert app.instance_path == str(tmp_path.resolve())
