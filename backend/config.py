"""The user's ``config.json``: parsed once into frozen objects, every key optional.

Unknown keys are kept (the file is schmux-compatible and may hold more than we use), so a
partial update never drops what another tool wrote.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import BadRequest, StorageError
from .fileio import write_json_atomic
from .giturl import url_problem
from .tunnel import destination_problem

SCM_WORKTREE = "git-worktree"
SCM_CLONE = "git"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_DEPTH = 64


class ConfigError(ValueError):
    """Invalid configuration; the message names the key (and the file when read from disk)."""


@dataclass(frozen=True)
class Repo:
    name: str
    url: str


@dataclass(frozen=True)
class RunTarget:
    name: str
    type: Literal["command", "promptable"]
    command: str


@dataclass(frozen=True)
class QuickLaunch:
    """A named spawn preset: a run target and the prompt it starts with."""

    name: str
    target: str = ""
    prompt: str = ""
    command: str = ""  # schmux's shell-command presets: kept, shown, not run by our form


@dataclass(frozen=True)
class Host:
    """Another machine running ``schmux-desktop --serve``, reached at ``url`` or through an
    OpenSSH tunnel to ``ssh`` (``user@host``, or a name from the user's ssh config) whose
    server listens on ``remote_port`` there. The token stays in this server (never shown)."""

    name: str
    url: str = ""
    ssh: str = ""
    remote_port: int = 0
    token: str = field(default="", repr=False)

    @property
    def endpoint(self) -> tuple[str, str, int]:
        """Where the host is: a token is kept across an edit only while this is unchanged."""
        return (self.url, self.ssh, self.remote_port)


# Keys schmux's config page reads, with the values it gets when the file has none (the effective
# config names each one; only those in the file are written back).
SCHMUX_DEFAULTS: dict[str, Any] = {
    "nudgenik": {"target": "", "viewed_buffer_ms": 0, "seen_interval_ms": 0},
    "branch_suggest": {"target": ""},
    "conflict_resolve": {"target": "", "timeout_ms": 120000},
    "access_control": {"enabled": False, "provider": "github", "session_ttl_minutes": 1440},
    "external_diff_commands": [],
    "external_diff_cleanup_after_ms": 3_600_000,
}
TERMINAL_DEFAULTS = {"seed_lines": 1000, "bootstrap_lines": 200}
XTERM_DEFAULTS = {
    "query_timeout_ms": 5000,
    "operation_timeout_ms": 10000,
    "max_log_size_mb": 16,
    "rotated_log_size_mb": 1,
}


@dataclass(frozen=True)
class Config:
    workspace_path: Path
    source_code_management: str = SCM_WORKTREE
    repos: tuple[Repo, ...] = ()
    run_targets: tuple[RunTarget, ...] = ()
    terminal_width: int = 120
    terminal_height: int = 40
    git_status_poll_interval_ms: int = 10000
    git_status_timeout_ms: int = 30000
    git_clone_timeout_ms: int = 300000
    dashboard_debounce_ms: int = 500
    mtime_poll_interval_ms: int = 5000
    allowed_origins: tuple[str, ...] = ()
    websocket_ping_interval_ms: int = 20000
    websocket_compression: bool = True  # permessage-deflate: each client's copy compressed alone
    log_max_bytes: int = 16 * 1024 * 1024
    snapshot_keep_days: int = 14
    quick_launch: tuple[QuickLaunch, ...] = ()
    nudgenik_target: str = ""
    hosts: tuple[Host, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def repo(self, name_or_url: str) -> Repo | None:
        for r in self.repos:
            if name_or_url in (r.name, r.url):
                return r
        return None

    def target(self, name: str) -> RunTarget | None:
        for t in self.run_targets:
            if t.name == name:
                return t
        return None

    def host(self, name: str) -> Host | None:
        for h in self.hosts:
            if h.name == name:
                return h
        return None

    def to_dict(self) -> dict[str, Any]:
        """The effective config: the raw file with every default filled in, and no host's
        token (``"token": ""`` and ``"has_token"`` instead: it never leaves this server)."""
        out = copy.deepcopy(dict(self.raw))
        out["hosts"] = [_host_dict(h) for h in self.hosts]
        out["workspace_path"] = str(self.workspace_path)
        out["source_code_management"] = self.source_code_management
        out["repos"] = [{"name": r.name, "url": r.url} for r in self.repos]
        raw_targets = self.raw.get("run_targets")
        sources = [
            item.get("source") if isinstance(item, dict) else None
            for item in (raw_targets if isinstance(raw_targets, list) else [])
        ]
        out["run_targets"] = [
            {
                "name": t.name,
                "type": t.type,
                "command": t.command,
                "source": (sources[i] if i < len(sources) else None) or "user",
            }
            for i, t in enumerate(self.run_targets)
        ]
        out["quick_launch"] = [
            {"name": q.name, "target": q.target, "prompt": q.prompt}
            | ({"command": q.command} if q.command else {})
            for q in self.quick_launch
        ]
        for key, default in SCHMUX_DEFAULTS.items():
            value = self.raw.get(key)
            if isinstance(default, dict):
                out[key] = {**default, **_obj(value)}
            elif key not in self.raw:
                out[key] = copy.deepcopy(default)
        out["network"] = {
            "bind_address": "127.0.0.1",
            "port": 0,
            "public_base_url": "",
            **_obj(self.raw.get("network")),
        }
        out["needs_restart"] = False
        out["terminal"] = {
            **TERMINAL_DEFAULTS,
            **_obj(self.raw.get("terminal")),
            "width": self.terminal_width,
            "height": self.terminal_height,
        }
        out["sessions"] = {
            "dashboard_poll_interval_ms": 5000,  # schmux's, read by its dashboard; unused here
            **_obj(self.raw.get("sessions")),
            "git_status_poll_interval_ms": self.git_status_poll_interval_ms,
            "git_status_timeout_ms": self.git_status_timeout_ms,
            "git_clone_timeout_ms": self.git_clone_timeout_ms,
            "dashboard_debounce_ms": self.dashboard_debounce_ms,
            "log_max_bytes": self.log_max_bytes,
        }
        out["xterm"] = {
            **XTERM_DEFAULTS,
            **_obj(self.raw.get("xterm")),
            "mtime_poll_interval_ms": self.mtime_poll_interval_ms,
        }
        out["workspaces"] = {
            **_obj(self.raw.get("workspaces")),
            "snapshot_keep_days": self.snapshot_keep_days,
        }
        out["allowed_origins"] = list(self.allowed_origins)
        out["server"] = {
            **_obj(self.raw.get("server")),
            "websocket_ping_interval_ms": self.websocket_ping_interval_ms,
            "websocket_compression": self.websocket_compression,
        }
        return out


def _host_dict(h: Host) -> dict[str, Any]:
    where: dict[str, Any] = (
        {"url": h.url} if h.url else {"ssh": h.ssh, "remote_port": h.remote_port}
    )
    return {"name": h.name, **where, "token": "", "has_token": bool(h.token)}


def _obj(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


@functools.lru_cache(maxsize=1024)
def short_repo_name(url: str) -> str:
    """``git@github.com:user/repo.git`` → ``repo``; ``/src/my-app/`` → ``my-app``."""
    tail = re.split(r"[/:\\]", url.rstrip("/\\"))[-1]
    if tail.endswith(".git"):
        tail = tail[:-4]
    return tail or "repo"


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "repo"
    return cleaned[:64]


def parse(raw: Any, data_dir: Path) -> Config:
    """Validate a decoded config object; raises ConfigError naming the offending key."""
    if not isinstance(raw, dict):
        raise ConfigError("the config must be a JSON object")

    def string(key: str, value: Any, *, empty_ok: bool = False) -> str:
        if not isinstance(value, str) or (not empty_ok and not value.strip()):
            raise ConfigError(f"{key} must be a non-empty string")
        if "\x00" in value:
            raise ConfigError(f"{key} must not contain NUL characters")
        return value

    def integer(key: str, value: Any, lo: int, hi: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer")
        if not lo <= value <= hi:
            raise ConfigError(f"{key} must be between {lo} and {hi}")
        return value

    def boolean(key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false")
        return value

    def section(key: str) -> dict[str, Any]:
        value = raw.get(key, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be an object")
        return value

    wp = raw.get("workspace_path")
    if wp is None or wp == "":
        workspace_path = data_dir / "workspaces"
    else:
        try:
            workspace_path = Path(string("workspace_path", wp)).expanduser()
        except RuntimeError:  # "~name/..." for a user that does not exist
            user = str(wp).split("/", 1)[0]
            raise ConfigError(f"workspace_path: cannot expand {user!r}: no such user") from None
        if not workspace_path.is_absolute():
            workspace_path = data_dir / workspace_path

    scm = raw.get("source_code_management", SCM_WORKTREE)
    if scm not in (SCM_WORKTREE, SCM_CLONE):
        raise ConfigError(f'source_code_management must be "{SCM_WORKTREE}" or "{SCM_CLONE}"')

    repos_raw = raw.get("repos", [])
    if not isinstance(repos_raw, list):
        raise ConfigError("repos must be a list of {name, url} objects")
    repos: list[Repo] = []
    for i, item in enumerate(repos_raw):
        if not isinstance(item, dict):
            raise ConfigError(f"repos[{i}] must be an object with name and url")
        url = string(f"repos[{i}].url", item.get("url"))
        problem = url_problem(url)
        if problem:
            raise ConfigError(f"repos[{i}].url {url[:200]!r}: {problem}")
        name_value = item.get("name")
        name = (
            _safe_name(short_repo_name(url))
            if name_value in (None, "")
            else string(f"repos[{i}].name", name_value)
        )
        if not NAME_RE.match(name):
            raise ConfigError(
                f"repos[{i}].name {name!r} may only use letters, digits, '.', '_' and '-'"
            )
        if any(r.name == name for r in repos):
            raise ConfigError(f"repos[{i}].name {name!r} is used twice")
        repos.append(Repo(name=name, url=url))

    targets_raw = raw.get("run_targets", [])
    if not isinstance(targets_raw, list):
        raise ConfigError("run_targets must be a list of {name, type, command} objects")
    targets: list[RunTarget] = []
    for i, item in enumerate(targets_raw):
        if not isinstance(item, dict):
            raise ConfigError(f"run_targets[{i}] must be an object with name, type and command")
        name = string(f"run_targets[{i}].name", item.get("name"))
        kind = item.get("type", "command")
        if kind not in ("command", "promptable"):
            raise ConfigError(f'run_targets[{i}].type must be "command" or "promptable"')
        command = string(f"run_targets[{i}].command", item.get("command"))
        if any(t.name == name for t in targets):
            raise ConfigError(f"run_targets[{i}].name {name!r} is used twice")
        targets.append(RunTarget(name=name, type=kind, command=command))

    quick_raw = raw.get("quick_launch", [])
    if not isinstance(quick_raw, list):
        raise ConfigError("quick_launch must be a list of {name, target, prompt} objects")
    quick: list[QuickLaunch] = []
    for i, item in enumerate(quick_raw):
        if not isinstance(item, dict):
            raise ConfigError(f"quick_launch[{i}] must be an object with name, target and prompt")
        name = string(f"quick_launch[{i}].name", item.get("name"))
        optional = {
            key: ""
            if item.get(key) is None
            else string(f"quick_launch[{i}].{key}", item[key], empty_ok=True)
            for key in ("target", "prompt", "command")
        }
        if not (optional["target"].strip() or optional["command"].strip()):
            raise ConfigError(f"quick_launch[{i}] needs a target (a run target) or a command")
        if any(q.name == name for q in quick):
            raise ConfigError(f"quick_launch[{i}].name {name!r} is used twice")
        quick.append(QuickLaunch(name=name, **optional))

    for key in ("nudgenik", "branch_suggest", "conflict_resolve", "access_control", "network"):
        part = raw.get(key)
        if part is not None and not isinstance(part, dict):
            raise ConfigError(f"{key} must be an object")
        if part and part.get("target") is not None:
            string(f"{key}.target", part["target"], empty_ok=True)
    nudgenik_target = _obj(raw.get("nudgenik")).get("target") or ""

    hosts = _hosts(raw.get("hosts", []), string)

    terminal = section("terminal")
    sessions = section("sessions")
    xterm = section("xterm")
    server = section("server")
    workspaces = section("workspaces")
    origins_raw = raw.get("allowed_origins", [])
    if not isinstance(origins_raw, list) or not all(isinstance(o, str) for o in origins_raw):
        raise ConfigError("allowed_origins must be a list of strings")

    return Config(
        workspace_path=workspace_path,
        source_code_management=scm,
        repos=tuple(repos),
        run_targets=tuple(targets),
        terminal_width=integer("terminal.width", terminal.get("width", 120), 10, 1000),
        terminal_height=integer("terminal.height", terminal.get("height", 40), 5, 500),
        git_status_poll_interval_ms=integer(
            "sessions.git_status_poll_interval_ms",
            sessions.get("git_status_poll_interval_ms", 10000),
            100,
            86_400_000,
        ),
        git_status_timeout_ms=integer(
            "sessions.git_status_timeout_ms",
            sessions.get("git_status_timeout_ms", 30000),
            100,
            3_600_000,
        ),
        git_clone_timeout_ms=integer(
            "sessions.git_clone_timeout_ms",
            sessions.get("git_clone_timeout_ms", 300000),
            100,
            86_400_000,
        ),
        dashboard_debounce_ms=integer(
            "sessions.dashboard_debounce_ms",
            sessions.get("dashboard_debounce_ms", 500),
            0,
            60_000,
        ),
        mtime_poll_interval_ms=integer(
            "xterm.mtime_poll_interval_ms",
            xterm.get("mtime_poll_interval_ms", 5000),
            100,
            3_600_000,
        ),
        allowed_origins=tuple(o.rstrip("/") for o in origins_raw),
        log_max_bytes=integer(
            "sessions.log_max_bytes",
            sessions.get("log_max_bytes", 16 * 1024 * 1024),
            64 * 1024,
            1 << 40,
        ),
        snapshot_keep_days=integer(
            "workspaces.snapshot_keep_days", workspaces.get("snapshot_keep_days", 14), 0, 3650
        ),
        websocket_ping_interval_ms=integer(
            "server.websocket_ping_interval_ms",
            server.get("websocket_ping_interval_ms", 20000),
            500,
            600_000,
        ),
        websocket_compression=boolean(
            "server.websocket_compression", server.get("websocket_compression", True)
        ),
        quick_launch=tuple(quick),
        nudgenik_target=nudgenik_target,
        hosts=hosts,
        raw=copy.deepcopy(raw),
    )


HOST_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
HOST_KEYS = {"name", "url", "ssh", "remote_port", "token", "has_token"}


def _hosts(value: Any, string: Any) -> tuple[Host, ...]:
    if not isinstance(value, list):
        raise ConfigError(
            'hosts must be a list of {"name", "url", "token"} or {"name", "ssh", "remote_port"}'
        )
    hosts: list[Host] = []
    for i, item in enumerate(value):
        where = f"hosts[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f'{where} must be an object like {{"name", "url", "token"}}')
        unknown = sorted(str(k) for k in item if k not in HOST_KEYS)
        if unknown:
            raise ConfigError(f"{where} has an unknown key {unknown[0][:64]!r}")
        name = item.get("name")
        if not isinstance(name, str) or not HOST_NAME_RE.match(name):
            raise ConfigError(
                f"{where}.name must be 1 to 64 letters, digits, '.', '_' or '-' "
                f"(got {str(name)[:80]!r})"
            )
        if any(h.name == name for h in hosts):
            raise ConfigError(f"{where}.name {name!r} is used twice")
        token = item.get("token")
        token = "" if token is None else string(f"{where}.token", token, empty_ok=True)
        if "url" in item and "ssh" in item:
            raise ConfigError(f'{where} has both "url" and "ssh": a host is reached one way')
        if "url" in item:
            url = string(f"{where}.url", item["url"]).rstrip("/")
            try:
                parsed = urllib.parse.urlsplit(url)
                ok = parsed.scheme in ("http", "https") and bool(parsed.hostname)
                parsed.port  # noqa: B018 (raises for a port that is not one)
            except ValueError:
                ok = False
            if not ok:
                raise ConfigError(f"{where}.url must be an http:// or https:// address")
            if parsed.query or parsed.fragment or parsed.username or parsed.password:
                raise ConfigError(
                    f"{where}.url must be the server's address alone (no query, fragment or "
                    'password: the token goes in "token")'
                )
            hosts.append(Host(name=name, url=url, token=token))
        elif "ssh" in item:
            ssh = string(f"{where}.ssh", item["ssh"])
            problem = destination_problem(ssh)
            if problem is not None or any(c.isspace() for c in ssh):
                raise ConfigError(
                    f"{where}.ssh must be a host for ssh (user@host or a name from "
                    f"~/.ssh/config): {problem or 'no spaces'}"
                )
            port = item.get("remote_port")
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                raise ConfigError(f"{where}.remote_port must be a port number (1 to 65535)")
            hosts.append(Host(name=name, ssh=ssh, remote_port=port, token=token))
        else:
            raise ConfigError(f'{where} needs "url" (http or https) or "ssh" and "remote_port"')
    return tuple(hosts)


def host_entry(config: Config, entry: Any) -> Host:
    """One ``hosts`` entry as a page sends it to be tested: checked as in the config, a blank
    token filled from the stored host of that name at that address; ``BadRequest`` if wrong."""
    if not isinstance(entry, dict):
        raise BadRequest(
            'the body must be a host: {"name", "url", "token"} or {"name", "ssh", "remote_port"}'
        )
    hosts = keep_host_tokens(config, {"hosts": [entry]})["hosts"]
    try:
        return _hosts(hosts, _string)[0]
    except ConfigError as e:
        raise BadRequest(str(e).replace("hosts[0]", "the host")) from e


def _string(key: str, value: Any, *, empty_ok: bool = False) -> str:
    if not isinstance(value, str) or (not empty_ok and not value.strip()):
        raise ConfigError(f"{key} must be a non-empty string")
    if "\x00" in value:
        raise ConfigError(f"{key} must not contain NUL characters")
    return value


def keep_host_tokens(config: Config, patch: dict[str, Any]) -> dict[str, Any]:
    """``patch`` with each host's stored token put back where the patch masks it (``""`` or
    no token, as GET /api/config shows it) for the same name at the same address; a changed
    address needs its token again, so no edit can send a stored token somewhere new."""
    hosts = patch.get("hosts")
    if not isinstance(hosts, list):
        return patch
    out = []
    for item in hosts:
        if isinstance(item, dict):
            item = {k: v for k, v in item.items() if k != "has_token"}
            old = config.host(item["name"]) if isinstance(item.get("name"), str) else None
            same_place = old is not None and old.endpoint == (
                item.get("url", "").rstrip("/") if isinstance(item.get("url", ""), str) else None,
                item.get("ssh", ""),
                item.get("remote_port", 0),
            )
            if old is not None and same_place and item.get("token") in (None, ""):
                item["token"] = old.token
        out.append(item)
    return {**patch, "hosts": out}


def merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """Nested objects merged key by key; everything else (lists included) replaced."""
    out = copy.deepcopy(dict(base))
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def apply_patch(config: Config, patch: Any, data_dir: Path) -> Config:
    """``config`` with ``patch`` (a request's JSON) merged in and checked whole; ``BadRequest``
    saying what is wrong, and then nothing changed."""
    if not isinstance(patch, dict):
        raise BadRequest("the config body must be a JSON object")
    try:
        return parse(merge(config.raw, keep_host_tokens(config, patch)), data_dir)
    except ConfigError as e:
        raise BadRequest(f"invalid config: {e}") from e


def _not_json(text: str) -> Any:
    raise ConfigError(f"{text} is not JSON (a number must be finite)")


def _unwritable(value: Any, where: str, depth: int = 0) -> str | None:
    """Why ``value`` could not be written back or sent to a browser (naming the key), or None.

    Python reads what nothing else can hold: an unpaired surrogate escape (``"\\ud800"``) can
    be encoded by no file, frame or log, and would break every dashboard connect."""
    if depth > MAX_DEPTH:
        return f"{where or 'the config'} is nested more than {MAX_DEPTH} levels deep"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return (
                f"{where or 'the config'} holds an unpaired surrogate escape (like \\ud800): "
                "not valid text"
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            here = f"{where}.{key}" if where else str(key)
            problem = _unwritable(key, here, depth + 1) or _unwritable(item, here, depth + 1)
            if problem:
                return problem
    elif isinstance(value, list):
        for i, item in enumerate(value):
            problem = _unwritable(item, f"{where}[{i}]", depth + 1)
            if problem:
                return problem
    return None


def load(path: Path, data_dir: Path) -> Config:
    """Read ``config.json``; a missing file means all defaults."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return parse({}, data_dir)
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from e
    try:
        raw = json.loads(text, parse_constant=_not_json) if text.strip() else {}
    except json.JSONDecodeError as e:
        raise ConfigError(
            f"{path}: not valid JSON (line {e.lineno}, column {e.colno}): {e.msg}"
        ) from e
    except RecursionError:
        raise ConfigError(f"{path}: nested more than {MAX_DEPTH} levels deep") from None
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from e
    except ValueError as e:  # e.g. an integer of more than 4300 digits
        raise ConfigError(f"{path}: not usable JSON: {e}") from None
    problem = _unwritable(raw, "")
    if problem:
        raise ConfigError(f"{path}: {problem.encode('utf-8', 'backslashreplace').decode()}")
    try:
        return parse(raw, data_dir)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from e


def save(path: Path, config: Config) -> None:
    """Write the config atomically; ``StorageError`` (507) when the disk refuses."""
    try:
        write_json_atomic(path, dict(config.raw))
    except OSError as e:
        raise StorageError(f"could not save {path}: {e.strerror or e}") from e
