"""Does a quiet screen show an agent waiting for the user? A documented set of patterns.

``detect(screen)`` looks at the last non-empty lines of a pane (plain text, no colours) and
returns the line that asks for input, or None. Patterns (case-insensitive); a selection menu
(3) counts within the bottom ``MENU_LOOKBACK`` non-empty lines, the others only within the bottom
``PROMPT_LOOKBACK`` (where the cursor waits: a question that has scrolled up was answered):

1. yes/no choices: ``[y/n]``, ``[Y/n]``, ``[y/N]``, ``(y/n)``, ``(yes/no)``, ``[yes/no]``
2. questions that ask for permission or a decision: a line ending in ``?`` that contains
   "do you want", "would you like", "shall i", "should i", "are you sure", "is it ok", or that
   starts (after list markers and box drawing) with "can i", "may i", "allow", "approve",
   "proceed", "continue", "confirm", "overwrite", "apply", "run", "execute", "trust"
3. a selection menu with a highlighted first choice, e.g. ``❯ 1. Yes``, ``› 1. Yes``,
   ``● 1. Yes`` (Claude Code, Codex and Gemini CLI permission dialogs) — the summary is the
   question line above it when there is one
4. "press enter to continue", "press any key", "hit enter"
5. password and passphrase prompts ending in ``:``

A shell prompt (``$``, ``#``, ``>``, ``%`` at the end) is not a question: an idle shell is not an
agent waiting for its user.
"""

from __future__ import annotations

import re
import time

from backend.errors import NotFound
from backend.events import Change
from backend.models import Session
from backend.sessions import SessionManager
from backend.tmux import Tmux, TmuxError

MENU_LOOKBACK = 8
PROMPT_LOOKBACK = 2
MAX_SUMMARY = 200

_YES_NO = re.compile(r"[\[(]\s*(y\s*/\s*n|yes\s*/\s*no)\s*[\])]", re.IGNORECASE)
_LEAD = r"^[\s│┃|>*•·\-─╭╰╮╯┌└]*"
_ASKS = re.compile(
    r"\b(do you want|would you like|shall i|should i|are you sure|is it ok|is that ok)\b.*\?"
    r"[\s│┃|]*$",
    re.IGNORECASE,
)
_QUESTION = re.compile(
    _LEAD
    + r"(can i|may i|allow|approve|proceed|continue|confirm|overwrite|apply|run|execute|trust)"
    r"\b.*\?[\s│┃|]*$",
    re.IGNORECASE,
)
_MENU = re.compile(r"^[\s│┃|▌]*(❯|›|>|→|▶|●)\s*1[.)]\s+\S", re.IGNORECASE)
_PRESS = re.compile(r"(press|hit)\s+(enter|return|any key)", re.IGNORECASE)
_SECRET = re.compile(r"(password|passphrase)[^:]{0,60}:\s*$", re.IGNORECASE)
_BOX = re.compile(r"^[\s│┃|▌╭╰╮╯┌└─━]+|[\s│┃|▌╭╰╮╯┐┘─━]+$")

QUIET_SECONDS = 2.0
NEEDS_INPUT = "Needs Input"
EXITED = "Exited"


def _clean(line: str) -> str:
    return _BOX.sub("", line).strip()[:MAX_SUMMARY]


def detect(screen: str) -> str | None:
    """The line asking for the user's input, or None."""
    lines = [ln.rstrip() for ln in screen.splitlines() if _clean(ln)]
    # A selection menu may sit a few lines above the bottom (hints, box edges below it).
    tail = lines[-MENU_LOOKBACK:]
    for i in range(len(tail) - 1, -1, -1):
        if _MENU.match(tail[i]):
            for j in range(i - 1, max(-1, i - 6), -1):
                if tail[j].rstrip(" │┃|▌").endswith("?"):
                    return _clean(tail[j])
            return _clean(tail[i])
    # Anything else must be at the bottom, where the cursor waits: an answered question
    # that has scrolled up is not pending.
    for line in reversed(lines[-PROMPT_LOOKBACK:]):
        if (
            _YES_NO.search(line)
            or _PRESS.search(line)
            or _SECRET.search(line)
            or _ASKS.search(line)
            or _QUESTION.match(line)
        ):
            return _clean(line)
    return None


class AttentionMonitor:
    """Marks quiet sessions that show a prompt ``Needs Input`` and failed ones ``Exited``.

    A session whose command exited with status 0 is done (``run_state`` "done"), not a nudge.

        A session is looked at once per quiet period: when its log has not grown for ``quiet``
        seconds. Nudges the monitor set are its own to clear (when the prompt is gone); nudges an
        agent reported through the API are left alone.
    """

    def __init__(
        self,
        sessions: SessionManager,
        tmux: Tmux,
        *,
        quiet: float = QUIET_SECONDS,
    ) -> None:
        self.sessions = sessions
        self.tmux = tmux
        self.quiet = quiet
        self._checked: dict[str, float] = {}

    async def check(self) -> float | None:
        """Look at every session due; return seconds until the next one is due, if any."""
        now = time.time()
        next_due: float | None = None
        state = self.sessions.registry.state
        for sid in list(self._checked):
            if sid not in state.sessions:
                del self._checked[sid]
        for s in list(state.sessions.values()):
            if not s.running:
                self._mark_exited(s)
                continue
            try:
                mtime = self.sessions.log_path(s.id).stat().st_mtime
            except OSError:
                continue
            if self._checked.get(s.id) == mtime:
                continue
            wait = mtime + self.quiet - now
            if wait > 0:
                next_due = wait if next_due is None else min(next_due, wait)
                continue
            self._checked[s.id] = mtime
            try:
                screen = await self.tmux.capture(s.tmux_name, lines=0, escapes=False)
            except TmuxError:
                continue
            self._apply(s.id, detect(screen))
        return next_due

    def _apply(self, session_id: str, prompt: str | None) -> None:
        try:
            s = self.sessions.get(session_id)
        except NotFound:
            return
        if prompt is not None:
            if s.nudge_source != "agent" or not s.nudge_state:
                self.sessions.set_nudge(
                    session_id, NEEDS_INPUT, prompt, source="detector", kind=Change.BACKGROUND
                )
        elif s.nudge_source == "detector" and s.nudge_state == NEEDS_INPUT:
            self.sessions.clear_nudge(session_id, kind=Change.BACKGROUND)

    def _mark_exited(self, s: Session) -> None:
        if s.exit_status == 0:
            # A clean exit is "done" (its own run state), not something that needs the user.
            # The status may come a moment after the pane died: take back our own "Exited".
            if s.nudge_source == "detector" and s.nudge_state == EXITED:
                self.sessions.clear_nudge(s.id, kind=Change.BACKGROUND)
            return
        if s.nudge_state and (s.nudge_source == "agent" or s.nudge_state == EXITED):
            if s.nudge_source == "detector" and s.nudge_summary != _exit_summary(s):
                self.sessions.set_nudge(
                    s.id, EXITED, _exit_summary(s), source="detector", kind=Change.BACKGROUND
                )
            return
        self.sessions.set_nudge(
            s.id, EXITED, _exit_summary(s), source="detector", kind=Change.BACKGROUND
        )


def _exit_summary(s: Session) -> str:
    return "the agent exited" if s.exit_status is None else f"exit status {s.exit_status}"
