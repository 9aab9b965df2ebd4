from __future__ import annotations

import random
import shlex

from backend import hostids, wire


def test_split_and_join() -> None:
    assert hostids.split("gpu-box:proj-001") == ("gpu-box", "proj-001")
    assert hostids.split("gpu-box:lab:proj-001") == ("gpu-box", "lab:proj-001")
    assert hostids.split("proj-001") is None
    assert hostids.join("gpu-box", "proj-001") == "gpu-box:proj-001"


def test_a_hosts_payload_gets_prefixed_ids_host_and_order_and_drops_junk() -> None:
    payload = [
        {"id": "b-001", "host": "", "sessions": [{"id": "s2", "workspace_id": "b-001"}]},
        {"id": "a-001", "host": "lab", "sessions": "junk"},
        "junk",
        {"no": "id"},
    ]
    out = hostids.workspaces("gpu", payload)
    assert [w["id"] for w in out] == ["gpu:a-001", "gpu:b-001"]
    assert out[0]["host"] == "gpu:lab" and out[0]["sessions"] == []  # a host's own host
    assert out[1]["sessions"] == [{"id": "gpu:s2", "workspace_id": "gpu:b-001", "host": "gpu"}]
    assert payload[0]["id"] == "b-001"  # the host's message is not changed in place
    assert hostids.workspaces("gpu", {"not": "a list"}) == []


def test_request_bodies_and_answers() -> None:
    body = {"host": "gpu", "workspace_id": "gpu:a-001", "session_id": "other:x", "n": 1}
    assert hostids.request_body("gpu", body) == {
        "workspace_id": "a-001",
        "session_id": "other:x",
        "n": 1,
    }
    answer = [{"session_id": "s1", "workspace_id": "a-001", "target": "shell"}, {"error": "e"}]
    assert hostids.answer("gpu", answer) == [
        {"session_id": "gpu:s1", "workspace_id": "gpu:a-001", "target": "shell"},
        {"error": "e"},
    ]
    scan = {"added": [{"id": "a-002", "path": "/p"}], "removed": [], "updated": []}
    keys = hostids.ID_KEYS | {"id"}
    assert hostids.answer("gpu", scan, id_keys=keys)["added"] == [{"id": "gpu:a-002", "path": "/p"}]


def test_an_ssh_hosts_attach_command_goes_through_ssh() -> None:
    cmd = "tmux -S /home/me/.local/share/schmux-desktop/tmux.sock attach -t '=schmux-a-001-x'"
    payload = [{"id": "a-001", "sessions": [{"id": "a-001-x", "attach_cmd": cmd}]}]
    (w,) = hostids.workspaces("lab", payload, ssh="me@lab.example")
    wrapped = w["sessions"][0]["attach_cmd"]
    assert wrapped.startswith("ssh -t me@lab.example ")
    assert shlex.split(wrapped) == ["ssh", "-t", "me@lab.example", cmd]
    (w,) = hostids.workspaces("gpu", payload)  # a url host: as the host said
    assert w["sessions"][0]["attach_cmd"] == cmd


def test_merged_json_is_the_id_ordered_list_from_hosts_encoded_once() -> None:
    """Hosts' workspaces encoded in runs, local ones around and between them: the same text as
    encoding the whole list sorted by id, whatever the names (prefixes of each other too)."""
    rng = random.Random(7)
    names = ["a", "a.b", "ab", "b-1", "gpu", "z", "A", "_x"]
    for _ in range(200):
        local = [
            {"id": rng.choice(["a", "ab", "gpu", "m", "z", "A", "0"]) + f"-{i:03d}", "n": i}
            for i in range(rng.randrange(0, 6))
        ]
        hosts = {}
        for name in rng.sample(names, rng.randrange(0, len(names))):
            payload = [
                {"id": rng.choice(["a", "ab", "r"]) + f"-{i:03d}", "sessions": [], "d": "é\n"}
                for i in range(rng.randrange(0, 4))
            ]
            hosts[name] = hostids.workspaces(name, payload)
        blocks = [hostids.encode_block(ws) for ws in hosts.values()]
        everything = local + [w for ws in hosts.values() for w in ws]
        expected = wire.encode(sorted(everything, key=lambda w: str(w["id"])))
        assert hostids.merged_json(local, blocks) == expected
