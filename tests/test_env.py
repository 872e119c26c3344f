"""Settings from environment variables: bad values warn and fall back."""

from __future__ import annotations

import logging

import pytest

from runlab._env import seconds_from_env


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", 5.0), ("2.5", 2.5), ("abc", 5.0), ("0", 0.5), ("nan", 0.5)],
)
def test_seconds_from_env_falls_back_on_bad_values(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: float
) -> None:
    monkeypatch.setenv("RUNLAB_TEST_S", text)

    assert seconds_from_env("RUNLAB_TEST_S", 5.0, minimum=0.5) == expected


def test_seconds_from_env_warns_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("RUNLAB_TEST_S", "abc")

    with caplog.at_level(logging.WARNING, logger="runlab._env"):
        seconds_from_env("RUNLAB_TEST_S", 5.0, minimum=0.5)

    assert caplog.messages == [
        "RUNLAB_TEST_S='abc' is not a number of seconds; using 5.0."
    ]
