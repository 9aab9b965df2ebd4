"""A persistent tmux control-mode client (``tmux -C``): tmux commands without a process each.

A one-shot ``tmux`` client costs ~4 ms per command (exec, connect, handshake); over the control
client a command takes ~0.05 ms. Commands go one per line in tmux's own command syntax, every
argument double-quoted with escapes, so no byte of an argument can end a line, split a command
or expand anything. Replies come back in order, each between a ``%begin`` line and an ``%end``
or ``%error`` line carrying the same time and number.

A control client must be attached to a session. It attaches to one of the agents' sessions
(without output, without a say in its size) rather than to a session of its own, so the tmux
server holds nothing but the agents' sessions; when that session ends the client is told
(``%exit``) after the replies to every command it ran, and the caller starts a new one.

Output that other programs control (pane captures) does not come through here: a line of it
could be made to look like the ``%end`` of the block holding it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend import procs

log = logging.getLogger(__name__)

# Between the arguments of two commands. Not ";" itself: that could be data (a typed ";").
# NUL cannot be in a real argument, so this cannot be one.
SEPARATOR = "\x00;"


class ControlLost(Exception):
    """The control client is gone (tmux server killed, client exited); use a one-shot client.

    ``maybe_ran``: it was given up for not answering, so the command may have run anyway."""

    def __init__(self, reason: str, *, maybe_ran: bool = False) -> None:
        super().__init__(reason)
        self.maybe_ran = maybe_ran


class ControlCommandError(Exception):
    """tmux answered the command with ``%error``; the message is tmux's."""


def quote(arg: str) -> str:
    """One argument in tmux's command syntax: double-quoted, with octal escapes for controls."""
    out = ['"']
    for ch in arg:
        if ch in '\\"$':
            out.append("\\" + ch)
        elif ch < " " or ch == "\x7f":
            out.append(f"\\{ord(ch):03o}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def command_line(args: Sequence[str]) -> bytes:
    if not args or any("\x00" in a for a in args if a != SEPARATOR):
        raise ValueError("a tmux command needs a name and no NUL bytes")
    return (" ".join(";" if a == SEPARATOR else quote(a) for a in args) + "\n").encode()


@dataclass(eq=False)
class _Pending:
    future: asyncio.Future[str]
    blocks_left: int
    output: list[str] = field(default_factory=list)
    error: str | None = None


class ControlClient:
    """One ``tmux -C`` process. Started and, once lost, reaped in ``backend.procs``'s worker
    threads; its pipes are read and written by the event loop without blocking (``add_reader``,
    non-blocking ``os.write``). Measured against asyncio's subprocess transport, this answers a
    command in ~57 µs against ~87 µs (``bench/bench_tmux.py``)."""

    def __init__(self, socket: Path, conf: Path, *, env: Mapping[str, str]) -> None:
        self.socket = socket
        self.conf = conf
        self.env = env
        self.alive = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._buf = bytearray()  # what tmux wrote after the last whole line
        self._out = bytearray()  # commands not yet taken by tmux
        self._pending: deque[_Pending] = deque()
        self._block: list[bytes] | None = None  # lines of the block being read
        self._guard: bytes = b""  # "<time> <number>" of that block
        self._ours = False
        self._recent: deque[bytes] = deque(maxlen=6)  # the last lines read, for a timeout's log
        self._ready: asyncio.Future[None] | None = None
        self.on_lost: Callable[[], None] | None = None  # after start, when it goes away

    async def start(self, session: str, timeout: float = 5.0) -> None:
        """Attach to ``session`` and wait until tmux answered; ControlLost if that failed."""
        loop = self._loop = asyncio.get_running_loop()
        argv = [
            "tmux", "-S", str(self.socket), "-f", str(self.conf), "-C",
            "attach-session", "-t", f"={session}", "-f", "no-output,ignore-size",
        ]  # fmt: skip
        try:
            self._proc = await procs.start(argv, env=dict(self.env))  # (a fork: not on the loop)
        except OSError as e:
            raise ControlLost(f"cannot run tmux: {e}") from e
        assert self._proc.stdin is not None and self._proc.stdout is not None
        os.set_blocking(self._proc.stdin.fileno(), False)
        os.set_blocking(self._proc.stdout.fileno(), False)
        self._ready = loop.create_future()
        self._ready.add_done_callback(_consume)
        self.alive = True
        loop.add_reader(self._proc.stdout.fileno(), self._on_readable)
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), timeout)
        except (TimeoutError, ControlLost) as e:
            self.close()
            raise ControlLost(f"tmux control client did not start: {e or 'no answer'}") from None
        except BaseException:
            self.close()
            raise

    async def run(self, args: Sequence[str], *, timeout: float) -> str:
        if not self.alive or self._loop is None:
            raise ControlLost("tmux control client is not running")
        line = command_line(args)
        pending = _Pending(self._loop.create_future(), blocks_left=args.count(SEPARATOR) + 1)
        pending.future.add_done_callback(_consume)  # also when nobody awaits it any more
        self._pending.append(pending)
        self._write(line)
        try:
            return await asyncio.wait_for(asyncio.shield(pending.future), timeout)
        except TimeoutError:
            # Its reply may still come; the stream cannot be trusted any more.
            log.warning(
                "tmux control client: no answer to %r within %s s (%d waiting, %s; last read %r)",
                args[0], timeout, len(self._pending),
                "inside a reply" if self._block is not None else "between replies",
                list(self._recent),
            )  # fmt: skip
            self._lose("tmux did not answer in time", maybe_ran=True)
            raise

    def close(self) -> None:
        self._lose("closed")

    # -- the pipe ---------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        was_empty = not self._out
        self._out += data
        if was_empty:
            self._flush()

    def _flush(self) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None or self._loop is None:
            return
        fd = proc.stdin.fileno()
        try:
            n = os.write(fd, self._out)
        except BlockingIOError:
            n = 0
        except OSError as e:
            self._lose(f"cannot write to tmux: {e}")
            return
        del self._out[:n]
        if self._out:
            self._loop.add_writer(fd, self._on_writable)

    def _on_writable(self) -> None:
        proc = self._proc
        if proc is not None and proc.stdin is not None and self._loop is not None:
            self._loop.remove_writer(proc.stdin.fileno())
        self._flush()

    def _on_readable(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        try:
            data = os.read(proc.stdout.fileno(), 256 * 1024)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._lose("tmux control client ended")
            return
        self._buf += data
        start = 0
        while (end := self._buf.find(b"\n", start)) >= 0:
            self._line(bytes(self._buf[start:end]))
            start = end + 1
        del self._buf[:start]

    def _line(self, line: bytes) -> None:
        self._recent.append(line[:200])
        if self._block is None:
            if line.startswith(b"%begin "):
                parts = line.split(b" ")
                self._block = []
                self._guard = b" ".join(parts[1:3])
                self._ours = len(parts) > 3 and parts[3] == b"1"
            elif line.startswith(b"%exit"):
                self._lose("tmux control client detached")
            return  # other notifications: not needed
        if line.startswith((b"%end ", b"%error ")) and b" ".join(line.split(b" ")[1:3]) == (
            self._guard
        ):
            text = b"\n".join(self._block).decode(errors="replace")
            failed = line.startswith(b"%error")
            self._block = None
            if self._ours:
                self._answer(text, failed)
            elif self._ready is not None and not self._ready.done():
                if failed:
                    self._ready.set_exception(ControlLost(text or "attach failed"))
                else:
                    self._ready.set_result(None)
            return
        self._block.append(line)

    def _answer(self, text: str, failed: bool) -> None:
        if not self._pending:
            log.warning("tmux control client: a reply nobody waits for")
            return
        p = self._pending[0]
        if text:
            p.output.append(text + "\n")
        if failed and p.error is None:
            p.error = text.strip() or "failed"
        p.blocks_left -= 1
        if p.blocks_left > 0:
            return
        self._pending.popleft()
        if p.future.done():
            return
        if p.error is not None:
            p.future.set_exception(ControlCommandError(p.error))
        else:
            p.future.set_result("".join(p.output))

    def _lose(self, reason: str, *, maybe_ran: bool = False) -> None:
        """Fail what waits, stop reading and let the client go: killed now, reaped in a worker
        thread, so the event loop never waits (a client only; the server and sessions go on)."""
        if not self.alive:
            return
        self.alive = False
        proc, self._proc = self._proc, None
        if proc is not None:
            loop = self._loop
            if loop is not None and not loop.is_closed():
                for pipe in (proc.stdin, proc.stdout):
                    if pipe is not None and not pipe.closed:
                        loop.remove_reader(pipe.fileno())
                        loop.remove_writer(pipe.fileno())
            procs.reap(proc)
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(ControlLost(reason))
        while self._pending:
            p = self._pending.popleft()
            if not p.future.done():
                p.future.set_exception(ControlLost(reason, maybe_ran=maybe_ran))
        if reason != "closed":
            log.info("tmux control client lost: %s", reason)
            if self.on_lost is not None:
                self.on_lost()


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved: no "never retrieved" warning
