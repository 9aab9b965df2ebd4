"""Web links to a branch on GitHub, GitLab or Bitbucket, from a remote's URL (no git run).

``git@github.com:me/app.git``, ``ssh://git@github.com/me/app``, ``https://github.com/me/app.git``
and ``https://me@bitbucket.org/me/app.git`` all name a project page; the branch page hangs off it
(``/tree/<b>`` on GitHub, ``/-/tree/<b>`` on GitLab, ``/branch/<b>`` on Bitbucket). Hosts are
recognised by name (``github.com``, ``gitlab.com``, ``bitbucket.org``, and self-hosted ones whose
name holds ``github``, ``gitlab`` or ``bitbucket``); any other remote, a local path, gets ``""``.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import quote

_SCHEME = re.compile(r"^(?:https?|ssh|git|git\+ssh|ssh\+git)://", re.IGNORECASE)
_SCP = re.compile(r"^(?:[^@/\s]+@)?([A-Za-z0-9.-]+):(?!//)(.+)$")
_TREE = {"github": "/tree/", "gitlab": "/-/tree/", "bitbucket": "/branch/"}


def _host_and_path(url: str) -> tuple[str, str] | None:
    m = _SCHEME.match(url)
    if m:
        rest = url[m.end() :]
        authority, _, path = rest.partition("/")
        host = authority.rsplit("@", 1)[-1].split(":", 1)[0]
        return host, path
    scp = _SCP.match(url)
    if scp and "/" not in url.split(":", 1)[0]:
        return scp.group(1), scp.group(2)
    return None


def _kind(host: str) -> str | None:
    lower = host.lower()
    for kind in _TREE:
        if kind in lower:
            return kind
    return None


@functools.lru_cache(maxsize=4096)
def branch_url(remote_url: str, branch: str) -> str:
    """The web page of ``branch`` on the forge ``remote_url`` points at, else ``""``.

    Pure and cached: the dashboard payload calls it for every workspace and session."""
    if not branch or not remote_url:
        return ""
    parts = _host_and_path(remote_url.strip())
    if parts is None:
        return ""
    host, path = parts
    kind = _kind(host)
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    if kind is None or not host or path.count("/") < 1 or any(c.isspace() for c in path):
        return ""
    if kind == "bitbucket" and path.startswith("scm/"):  # Bitbucket Server's clone path
        return ""
    return f"https://{host}/{path}{_TREE[kind]}{quote(branch, safe='/')}"
