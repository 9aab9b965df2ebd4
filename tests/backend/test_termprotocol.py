"""``/ws/terminal`` frames: every client frame parsed and checked in one place; server frames
in the shape ``frontend/src/terminal/protocol.ts`` reads."""

from __future__ import annotations

import json

import pytest

from backend import termprotocol as tp
from backend.errors import BadRequest


def test_input_and_resize_frames() -> None:
    assert tp.parse('{"type":"input","data":"ls\\r"}') == tp.Input("ls\r")
    assert tp.parse(b'{"type":"resize","cols":80,"rows":24}') == tp.Resize(80, 24)
    assert tp.Input("ls\r").submits and tp.Input("a\nb").submits
    assert not tp.Input("ls").submits


def test_resize_in_schmux_form_carries_its_size_as_json_in_data() -> None:
    frame = {"type": "resize", "data": json.dumps({"cols": 97, "rows": 31})}
    assert tp.parse(json.dumps(frame)) == tp.Resize(97, 31)
    for data in ('{"cols":"97","rows":31}', "[97, 31]", "not json", '{"cols":1,"rows":31}'):
        with pytest.raises(BadRequest, match="resize"):
            tp.parse(json.dumps({"type": "resize", "data": data}))


def test_a_frame_of_an_unknown_type_is_ignored() -> None:
    assert tp.parse('{"type":"ping"}') is None
    assert tp.parse("{}") is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "frames must be JSON objects: "),
        ("[1]", "frames must be JSON objects"),
        ('"input"', "frames must be JSON objects"),
        ('{"type":"input"}', '"input" needs a string "data"'),
        ('{"type":"input","data":5}', '"input" needs a string "data"'),
        ('{"type":"resize","cols":"80","rows":24}', '"resize" needs integer "cols" and "rows"'),
        ('{"type":"resize","cols":true,"rows":24}', '"resize" needs integer "cols" and "rows"'),
        ('{"type":"resize","cols":80.0,"rows":24}', '"resize" needs integer "cols" and "rows"'),
        ('{"type":"resize","cols":1,"rows":24}', "resize needs 2 ≤ cols ≤ 1000 and 2 ≤ rows ≤ 500"),
        ('{"type":"resize","cols":80,"rows":501}', "resize needs 2 ≤ cols ≤ 1000"),
        ('{"type":"input","data":"\\ud800"}', "frames must be JSON objects: "),
        ('{"type":"resize","cols":1' + "0" * 40 + ',"rows":2}', "digits"),
    ],
)
def test_bad_frames_say_what_is_wrong(raw: str, message: str) -> None:
    with pytest.raises(BadRequest) as e:
        tp.parse(raw)
    assert message in e.value.message


def test_input_is_limited_per_frame() -> None:
    assert tp.parse(json.dumps({"type": "input", "data": "x" * tp.MAX_INPUT})) is not None
    with pytest.raises(BadRequest, match="input is too large"):
        tp.parse(json.dumps({"type": "input", "data": "x" * (tp.MAX_INPUT + 1)}))


def test_server_frames() -> None:
    assert json.loads(tp.full("é\x1b[1;1H", rows=24, running=True, exit_status=None)) == {
        "type": "full",
        "content": "é\x1b[1;1H",
        "rows": 24,
        "running": True,
        "exit_status": None,
    }
    assert "é" in tp.append("é")  # UTF-8 on the wire, not \\u escapes
    assert json.loads(tp.append("x")) == {"type": "append", "content": "x"}
    assert json.loads(tp.error("bad")) == {"type": "error", "error": "bad"}
