"""Reading a client's JSON (backend/untrusted.py): what the app cannot hold is a 400 here."""

from __future__ import annotations

import pytest

from backend import untrusted
from backend.errors import BadRequest


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("[" * 50 + "]" * 50, "nested too deeply"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"a":' + "9" * 19 + "}", "digits"),
        ('{"a":-' + "9" * 5000 + "}", "digits"),
        ('{"a":NaN}', "not JSON"),
        ('{"a":-Infinity}', "not JSON"),
        ('{"a":1e400}', "too large"),
        ('{"a":"\\ud800"}', '"a" holds an unpaired surrogate'),
        ('{"a":{"b":["x","\\udfff"]}}', '"a.b[1]" holds'),
        ('{"\\ud800":1}', "unpaired surrogate"),
        ("{oops", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        ("[1]", "must be a JSON object"),
    ],
)
def test_refused_with_a_reason(raw: str | bytes, reason: str) -> None:
    with pytest.raises(BadRequest) as info:
        untrusted.parse_object(raw)
    assert reason in info.value.message


def test_what_is_fine_passes_unchanged() -> None:
    raw = '{"a":[1,-2,3.5,true,null,"ünï 🚀 \\ud83d\\ude80"],"b":{"c":' + "9" * 18 + "}}"
    assert untrusted.parse_object(raw) == {
        "a": [1, -2, 3.5, True, None, "ünï 🚀 🚀"],
        "b": {"c": int("9" * 18)},
    }
    nested: str = "[" * 32 + "]" * 32
    assert untrusted.parse(nested) is not None
