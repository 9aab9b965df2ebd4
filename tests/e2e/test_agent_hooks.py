"""The documented hook helper against a real server, run the way an agent hook runs it."""

from __future__ import annotations

from collections.abc import Callable

from tests.helpers import ROOT, Server, wait_for

NUDGE = ROOT / "docs" / "hooks" / "schmux-nudge"


def test_hook_script_sets_and_clears_from_inside_a_session(
    make_server: Callable[..., Server],
) -> None:
    event = (
        '{"hook_event_name":"Notification","message":"Claude needs your permission to use Bash"}'
    )
    command = f"python3 {NUDGE} 'Needs Input' - <<'EOF'\n{event}\nEOF\nsleep 600"
    srv = make_server({"run_targets": [{"name": "agent", "type": "command", "command": command}]})
    sid = srv.spawn(repo="proj", branch="main", targets={"agent": 1})[0]["session_id"]
    s = wait_for(lambda: (x := srv.session(sid)) and x["nudge_state"] and x, timeout=10)
    assert (s["nudge_state"], s["nudge_summary"]) == (
        "Needs Input",
        "Claude needs your permission to use Bash",
    )
    assert s["nudge_source"] == "agent"


def test_codex_style_and_clear(make_server: Callable[..., Server]) -> None:
    event = (
        '{"type":"agent-turn-complete","last-assistant-message":"Tests pass now.\\nDetails follow"}'
    )
    command = (
        f"python3 {NUDGE} --codex Completed '{event}'; sleep 2; python3 {NUDGE} --clear; sleep 600"
    )
    srv = make_server({"run_targets": [{"name": "agent", "type": "command", "command": command}]})
    sid = srv.spawn(repo="proj", branch="main", targets={"agent": 1})[0]["session_id"]
    s = wait_for(lambda: (x := srv.session(sid)) and x["nudge_state"] and x, timeout=10)
    assert (s["nudge_state"], s["nudge_summary"]) == ("Completed", "Tests pass now.")
    wait_for(lambda: (x := srv.session(sid)) and x["nudge_state"] == "", timeout=10)


def test_outside_schmux_it_does_nothing() -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHMUX_")}
    r = subprocess.run(
        [sys.executable, str(NUDGE), "--json-stdout", "Needs Input", "x"],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert r.returncode == 0 and r.stdout.strip() == "{}"
