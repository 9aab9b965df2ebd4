"""Repo URLs: which ones git may be pointed at, and local paths made absolute.

Allowed: a local path (``~`` expanded), ``file://``, ``git://``, ``ssh://`` (and scp-like
``user@host:path``), ``http(s)://``. Refused before git ever runs: remote-helper syntax
(``ext::``, ``fd::``, any ``<helper>::<address>``, which can run commands or read descriptors),
every other scheme, and anything git could take for an option (a leading ``-``, an ssh host
starting with ``-``). The processes that talk to a remote also get ``GIT_ALLOW_PROTOCOL`` with
the same list (``REMOTE_ENV``), so a redirect or a submodule cannot slip another one through.
"""

from __future__ import annotations

import re
from pathlib import Path

ALLOWED_SCHEMES = ("file", "git", "ssh", "git+ssh", "ssh+git", "http", "https")
ALLOWED_PROTOCOLS = "file:git:ssh:http:https"  # git's protocol names for the schemes above
REMOTE_ENV = {
    "GIT_ALLOW_PROTOCOL": ALLOWED_PROTOCOLS,
    "GIT_PROTOCOL_FROM_USER": "0",
    "GIT_TERMINAL_PROMPT": "0",
}

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_HELPER = re.compile(r"^[A-Za-z0-9+.-]*::")
ALLOWED_TEXT = "a local path, file://, git://, ssh://, user@host:path, http:// or https://"


def url_problem(url: str) -> str | None:
    """Why git must not be pointed at ``url``, or None when it may."""
    if any(ord(c) < 32 or ord(c) == 127 for c in url):
        return "must not contain control characters"
    if url.startswith("-"):
        return "must not start with '-' (git would read it as an option)"
    if _HELPER.match(url):
        helper = url.split("::", 1)[0] or "::"
        return f"the {helper!r} remote helper is not allowed (use {ALLOWED_TEXT})"
    m = _SCHEME.match(url)
    if m:
        scheme = m.group(1).lower()
        if scheme not in ALLOWED_SCHEMES:
            return f"the {scheme}:// transport is not allowed (use {ALLOWED_TEXT})"
        host = url[m.end() :].split("/", 1)[0].rsplit("@", 1)[-1]
        if host.startswith("-"):
            return "the host must not start with '-'"
        return None
    colon, slash = url.find(":"), url.find("/")
    if colon > 0 and (slash < 0 or colon < slash):  # scp-like [user@]host:path, as git reads it
        host = url[:colon].rsplit("@", 1)[-1]
        if host.startswith("-"):
            return "the host must not start with '-'"
        return None
    if url.startswith("~"):
        try:
            Path(url).expanduser()
        except RuntimeError:
            return f"cannot expand {url.split('/', 1)[0]!r}: no such user"
    return None


def local_url(url: str) -> str:
    """Local paths become absolute so clones work from any directory."""
    if "://" in url or re.match(r"^[\w.-]+@[\w.-]+:", url):
        return url
    try:
        path = Path(url).expanduser()
    except RuntimeError:
        return url
    return str(path.resolve()) if path.exists() else url
