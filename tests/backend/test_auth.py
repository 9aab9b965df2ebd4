"""The auth rules and helpers on their own (backend/auth.py), time injected."""

from __future__ import annotations

import pytest

from backend import auth
from backend.errors import Forbidden, Unauthorized, UnsupportedMediaType


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_tickets_are_one_time_and_expire() -> None:
    clock = Clock()
    tickets = auth.Tickets(ttl=30, now=clock)
    a, b = tickets.issue(), tickets.issue()
    assert a != b and len(a) >= 40
    assert tickets.redeem(a) and not tickets.redeem(a)
    clock.t += 31
    assert not tickets.redeem(b)
    assert not tickets.redeem(None) and not tickets.redeem("") and not tickets.redeem("made-up")
    assert len(tickets) == 0


def test_tickets_outstanding_are_bounded() -> None:
    tickets = auth.Tickets(limit=3, now=Clock())
    issued = [tickets.issue() for _ in range(5)]
    assert len(tickets) == 3
    assert not tickets.redeem(issued[0]) and tickets.redeem(issued[-1])


def test_failure_throttle_spaces_a_guessers_answers() -> None:
    clock = Clock()
    throttle = auth.FailureThrottle(free=3, interval=0.5, max_wait=2.0, forget_after=60, now=clock)
    assert [throttle.failed("a") for _ in range(3)] == [0, 0, 0]
    waits = [throttle.failed("a") for _ in range(6)]  # all at the same instant: each its own slot
    assert waits == [0.5, 1.0, 1.5, 2.0, 2.0, 2.0]
    assert throttle.failed("b") == 0  # another address is not affected
    clock.t += 120  # quiet for a while: forgotten
    assert throttle.failed("a") == 0


def test_failure_throttle_memory_is_bounded() -> None:
    throttle = auth.FailureThrottle(limit=100, now=Clock())
    for i in range(1000):
        throttle.failed(f"10.0.{i // 256}.{i % 256}")
    assert throttle.failures("10.0.0.0") == 0 and throttle.failures("10.0.3.231") == 1


def test_check_token() -> None:
    auth.check_token(None, None)  # --no-auth
    auth.check_token("s" * 16, "Bearer " + "s" * 16)
    auth.check_token("s" * 16, "bearer   " + "s" * 16 + " ")
    for header in (None, "", "Basic xyz", "Bearer", "Bearer " + "t" * 16):
        with pytest.raises(Unauthorized):
            auth.check_token("s" * 16, header)


@pytest.mark.parametrize(
    ("origin", "site", "ok"),
    [
        (None, None, True),  # a script
        (None, "none", True),  # typed into the address bar
        ("http://127.0.0.1:8765", "same-origin", True),
        ("http://127.0.0.1:8765", None, True),
        ("http://127.0.0.1:8766", "same-site", False),  # another port: same site, not ours
        ("http://localhost:8765", "cross-site", False),
        ("http://127.0.0.1:8765", "cross-site", False),  # the browser says cross-site: refused
        (None, "cross-site", False),
        (None, "same-site", False),  # <img>/<script> from another port
        ("null", None, False),
        ("https://127.0.0.1:8765", None, False),  # other scheme
        ("https://proxy.example", "same-origin", True),  # configured
    ],
)
def test_cross_site_rule(origin: str | None, site: str | None, ok: bool) -> None:
    def check() -> None:
        auth.check_cross_site(origin, site, "127.0.0.1:8765", "http", ("https://proxy.example",))

    if ok:
        check()
    else:
        with pytest.raises(Forbidden):
            check()


@pytest.mark.parametrize(
    ("origin", "forwarded", "ok"),
    [
        ("http://127.0.0.1:9000", ("127.0.0.1:9000", None), True),  # a proxy that says so
        ("https://dash.example", ("dash.example", "https"), True),
        ("https://dash.example", ("dash.example, inner:1", "https, http"), True),  # first hop
        ("http://dash.example", ("dash.example", "https"), False),  # other scheme
        ("http://127.0.0.1:9001", ("127.0.0.1:9000", None), False),  # another port
        ("http://127.0.0.1:9000", (None, None), False),  # no proxy header: not ours
        ("http://127.0.0.1:9000", ("", None), False),
    ],
)
def test_an_origin_a_reverse_proxy_names_is_ours(
    origin: str, forwarded: tuple[str | None, str | None], ok: bool
) -> None:
    def check() -> None:
        auth.check_cross_site(origin, "same-origin", "127.0.0.1:8765", "http", (), forwarded)

    if ok:
        check()
    else:
        with pytest.raises(Forbidden):
            check()


@pytest.mark.parametrize(
    ("content_type", "ok"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("Application/JSON", True),
        (None, False),
        ("", False),
        ("text/plain", False),
        ("text/plain; application/json", False),
        ("application/x-www-form-urlencoded", False),
        ("multipart/form-data; boundary=x", False),
        ("application/json-seq", False),
    ],
)
def test_writes_must_be_json(content_type: str | None, ok: bool) -> None:
    if ok:
        auth.check_json_body(content_type)
    else:
        with pytest.raises(UnsupportedMediaType):
            auth.check_json_body(content_type)
