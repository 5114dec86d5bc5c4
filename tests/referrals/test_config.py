"""Referral settings: deadlines by urgency and the retention period, from the environment."""

from __future__ import annotations

import pytest

from directory.config import ConfigError, load


def test_deadlines_and_retention_come_from_the_environment() -> None:
    settings = load({"ENV": "testing"}, environ={"DIRECTORY_RESPONSE_HOURS_EMERGENCY": "2",
                                                 "DIRECTORY_CLIENT_DATA_RETENTION_DAYS": "30"})
    assert settings["RESPONSE_HOURS_EMERGENCY"] == 2
    assert settings["RESPONSE_HOURS_ROUTINE"] == 72
    assert settings["CLIENT_DATA_RETENTION_DAYS"] == 30


@pytest.mark.parametrize("name,value", [("RESPONSE_HOURS_URGENT", "0"),
                                        ("CLIENT_DATA_RETENTION_DAYS", "-1"),
                                        ("RESPONSE_HOURS_ROUTINE", "three days")])
def test_bad_settings_stop_start_up_with_a_message(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"DIRECTORY_{name}"):
        load({"ENV": "testing"}, environ={f"DIRECTORY_{name}": value})
