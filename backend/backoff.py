"""How long to wait before trying a lost connection again: exponential backoff with full jitter.

After the n-th failure in a row the wait is a uniform random time in ``[0, min(cap, initial·2ⁿ)]``
("full jitter": many clients that lost the same server do not come back in step). A connection
that stayed up for ``stable`` seconds or more counts as healthy: the next loss starts again from
``initial``. A connection that drops soon after coming up keeps climbing, so a flapping server is
not hammered. Pure arithmetic: the caller sleeps, and ``random`` is injectable for tests.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable

MAX_EXPONENT = 30  # 2**30 · initial is far above any cap: no float overflow after days of failing


class Backoff:
    def __init__(
        self,
        *,
        initial: float = 0.5,
        cap: float = 30.0,
        stable: float = 60.0,
        random: Callable[[], float] = _random.random,
    ) -> None:
        if initial <= 0 or cap < initial or stable < 0:
            raise ValueError("backoff needs 0 < initial <= cap and stable >= 0")
        self.initial = initial
        self.cap = cap
        self.stable = stable
        self._random = random
        self._failures = 0

    @property
    def failures(self) -> int:
        """Failures in a row since the last stable period."""
        return self._failures

    def ceiling(self) -> float:
        """The longest the next wait can be."""
        return min(self.cap, self.initial * 2.0 ** min(self._failures, MAX_EXPONENT))

    def next_delay(self) -> float:
        """The wait before the next try; counts one more failure."""
        delay = self._random() * self.ceiling()
        self._failures += 1
        return delay

    def was_up(self, seconds: float) -> None:
        """The connection had been up this long when it was lost: long enough resets the climb."""
        if seconds >= self.stable:
            self._failures = 0
