"""Live terminal streams: the recent screen of a session, then its output as it arrives.

The first message a viewer gets is ``full``: the pane's scrollback and visible screen captured by
tmux with colours, ending with the cursor placed where the pane has it. Then ``append`` messages
carry the raw bytes tmux's ``pipe-pane`` writes to ``logs/<id>.log``, read from where the log
ended when the viewer arrived. All viewers of one session share one reader, so they see the
same bytes. A viewer that falls more than ``MAX_BACKLOG`` behind gets a fresh ``full`` instead
of a replay, so a huge burst never piles up in memory.

The log's writer rotates it; a stream reads it with a ``backend.sessionlog.LogFollower``,
which finishes a log moved away before it goes on with the new one.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from backend import termprotocol
from backend.errors import Conflict
from backend.models import Session
from backend.sessionlog import LogFollower, tail
from backend.tmux import Tmux, TmuxError

log = logging.getLogger(__name__)

MAX_BACKLOG = 1024 * 1024
HISTORY_LINES = 5000
POLL_SECONDS = 0.05  # only without file watching


@dataclass(eq=False)
class Viewer:
    session_id: str
    queue: list[str] = field(default_factory=list)  # output text not yet sent
    backlog: int = 0
    needs_full: bool = True
    closed: bool = False
    close_reason: str = ""
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def push(self, text: str, size: int) -> None:
        if self.needs_full:
            return  # the coming full capture will include it
        self.queue.append(text)
        self.backlog += size
        if self.backlog > MAX_BACKLOG:
            self.queue.clear()
            self.backlog = 0
            self.needs_full = True
        self.wake.set()

    def close(self, reason: str) -> None:
        self.closed = True
        self.close_reason = reason
        self.wake.set()


@dataclass(eq=False)
class Stream:
    session_id: str
    log: LogFollower
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )
    viewers: set[Viewer] = field(default_factory=set)
    running: bool = True
    exit_status: int | None = None
    scheduled: bool = False


class TerminalHub:
    def __init__(
        self,
        tmux: Tmux,
        *,
        session: Callable[[str], Session],
        log_path: Callable[[str], Path],
        polling: Callable[[], bool],
        marked_by_launcher: Callable[[str], bool] = lambda _sid: False,
    ) -> None:
        self.tmux = tmux
        self._session = session
        self._log_path = log_path
        self._marked_by_launcher = marked_by_launcher  # it wrote "exited (status N)" itself
        self._polling = polling
        self.streams: dict[str, Stream] = {}
        self.default_rows = 40
        self._poller: asyncio.TimerHandle | None = None

    # -- viewers ------------------------------------------------------------------------

    def open(self, session_id: str) -> Viewer:
        s = self._session(session_id)
        stream = self.streams.get(session_id)
        if stream is None:
            follower = LogFollower.from_end(self._log_path(session_id))
            stream = Stream(session_id, follower, running=s.running, exit_status=s.exit_status)
            self.streams[session_id] = stream
        viewer = Viewer(session_id)
        stream.viewers.add(viewer)
        viewer.wake.set()
        self._ensure_polling()
        return viewer

    def close(self, viewer: Viewer) -> None:
        stream = self.streams.get(viewer.session_id)
        if stream is None:
            return
        stream.viewers.discard(viewer)
        if not stream.viewers:
            del self.streams[viewer.session_id]
            stream.log.close()

    async def full_message(self, session_id: str) -> str:
        s = self._session(session_id)
        try:
            # one tmux call: a resize in between cannot make capture and cursor disagree
            text, x, y, _w, h = await self.tmux.capture_with_cursor(
                s.tmux_name, lines=HISTORY_LINES
            )
        except (TmuxError, ValueError):
            note = "session ended" if s.exit_status is None else f"exited (status {s.exit_status})"
            text = (
                tail(self._log_path(session_id)).decode("utf-8", errors="replace")
                + f"\r\n\x1b[2m[{note}; the tmux pane is gone]\x1b[0m\r\n"
            )
            return termprotocol.full(
                text, rows=self.default_rows, running=False, exit_status=s.exit_status
            )
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if (
            not s.running
            and not self._marked_by_launcher(session_id)  # its marker is in the pane or coming
            and not any("exited (" in ln for ln in lines[-3:])  # tmux's, from older versions
        ):
            # killed, not ended: the launcher could not write its marker
            status = "by a signal" if s.exit_status is None else f"status {s.exit_status}"
            lines.append(f"\x1b[0;2mexited ({status})\x1b[0m")
            x, y = 0, h - 1  # the screen scrolled by the added line: bottom row
        # Rows beyond the capture are blank; place the cursor relative to the visible screen.
        content = "\r\n".join(lines) + f"\x1b[{y + 1};{x + 1}H"
        return termprotocol.full(content, rows=h, running=s.running, exit_status=s.exit_status)

    async def next_messages(self, viewer: Viewer) -> list[str]:
        """The viewer's sender: wait, then take what is queued (a fresh full when needed)."""
        while True:
            if viewer.closed:
                return []
            if viewer.needs_full:
                viewer.needs_full = False
                viewer.queue.clear()
                viewer.backlog = 0
                viewer.wake.clear()
                return [await self.full_message(viewer.session_id)]
            if viewer.queue:
                out = [termprotocol.append("".join(viewer.queue))]
                viewer.queue.clear()
                viewer.backlog = 0
                viewer.wake.clear()
                return out
            viewer.wake.clear()
            await viewer.wake.wait()

    # -- input --------------------------------------------------------------------------

    async def send_input(self, session_id: str, data: str) -> None:
        """Type ``data`` (checked by ``termprotocol.parse``) into the session's pane."""
        s = self._session(session_id)
        if not data:
            return
        # A lone surrogate cannot reach tmux's command line: it becomes U+FFFD.
        data = data.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        try:
            for part in _split_nul(data):
                if part == "\x00":
                    await self.tmux.run("send-keys", "-t", f"={s.tmux_name}:", "C-Space")
                else:
                    await self.tmux.send_literal(s.tmux_name, part)
        except TmuxError as e:
            raise Conflict(f"the terminal did not take the input: {e}") from None
        self.poke(session_id)

    async def resize(self, session_id: str, cols: int, rows: int) -> None:
        """Resize the pane (to a size checked by ``termprotocol.parse``)."""
        s = self._session(session_id)
        with contextlib.suppress(TmuxError):
            await self.tmux.resize(s.tmux_name, cols, rows)

    # -- output -------------------------------------------------------------------------

    def on_log_change(self, session_ids: set[str]) -> None:
        for sid in session_ids:
            self.poke(sid)

    def poke(self, session_id: str) -> None:
        stream = self.streams.get(session_id)
        if stream is not None and not stream.scheduled:
            stream.scheduled = True
            asyncio.get_running_loop().call_soon(self._read, stream)

    def _read(self, stream: Stream) -> None:
        stream.scheduled = False
        if self.streams.get(stream.session_id) is not stream:
            return
        try:
            data = stream.log.read()
        except OSError as e:
            log.warning("cannot read %s: %s", stream.log.path, e)
            return
        if not data:
            return
        text = stream.decoder.decode(data)
        if text:
            for v in stream.viewers:
                v.push(text, len(data))
        # maybe more to read: continue after other work had its turn
        stream.scheduled = True
        asyncio.get_running_loop().call_soon(self._read, stream)

    def on_sessions_changed(self) -> None:
        for sid, stream in list(self.streams.items()):
            try:
                s = self._session(sid)
            except Exception:
                for v in stream.viewers:
                    v.close("session disposed")
                continue
            # Show the exit marker; again when tmux recorded the status after the pane died
            # (shown meanwhile as "by a signal").
            ended = stream.running and not s.running
            status_came = not s.running and s.exit_status != stream.exit_status
            if ended or status_came:
                for v in stream.viewers:
                    v.needs_full = True
                    v.wake.set()
            stream.running = s.running
            stream.exit_status = s.exit_status

    def _ensure_polling(self) -> None:
        if not self._polling() or self._poller is not None:
            return
        loop = asyncio.get_running_loop()

        def tick() -> None:
            self._poller = None
            if not self.streams:
                return
            for sid in list(self.streams):
                self.poke(sid)
            self._poller = loop.call_later(POLL_SECONDS, tick)

        self._poller = loop.call_later(POLL_SECONDS, tick)

    def close_all(self) -> None:
        for stream in self.streams.values():
            for v in stream.viewers:
                v.close("server shutting down")
            stream.log.close()
        if self._poller is not None:
            self._poller.cancel()
            self._poller = None


def _split_nul(data: str) -> list[str]:
    """send-keys cannot carry NUL in an argument: send it as its own key."""
    if "\x00" not in data:
        return [data]
    out: list[str] = []
    for i, piece in enumerate(data.split("\x00")):
        if i:
            out.append("\x00")
        if piece:
            out.append(piece)
    return out
