"""The reconnect waits (``backend.backoff``): exponential, full jitter, capped, reset when stable."""

from __future__ import annotations

import pytest

from backend.backoff import Backoff


def test_ceiling_doubles_to_the_cap_and_the_wait_is_uniform_below_it() -> None:
    draws = iter([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.0])
    b = Backoff(initial=0.5, cap=30.0, random=lambda: next(draws))
    assert [b.next_delay() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    assert b.next_delay() == 15.0  # full jitter: random() · ceiling
    assert b.next_delay() == 0.0
    assert b.failures == 9


def test_a_stable_period_starts_again_from_initial_a_short_one_does_not() -> None:
    b = Backoff(initial=1.0, cap=30.0, stable=60.0, random=lambda: 1.0)
    for _ in range(4):
        b.next_delay()
    b.was_up(59.9)  # flapping: keeps climbing
    assert b.next_delay() == 16.0
    b.was_up(60.0)
    assert b.failures == 0
    assert b.next_delay() == 1.0


def test_days_of_failures_stay_at_the_cap() -> None:
    b = Backoff(initial=0.5, cap=30.0, random=lambda: 1.0)
    for _ in range(5000):
        delay = b.next_delay()
    assert delay == 30.0


@pytest.mark.parametrize("kwargs", [{"initial": 0}, {"initial": 5, "cap": 1}, {"stable": -1}])
def test_nonsense_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)
