"""A guard against hangs in tests (not a timing test): the code under test gets a generous
number of seconds, after which it fails instead of blocking the suite."""

from __future__ import annotations

import contextlib
import signal


@contextlib.contextmanager
def time_limit(seconds: float, what: str = "the call"):
    """Raise TimeoutError in this (main) thread after ``seconds``: a hang fails, not blocks."""
    def expired(signum, frame):
        raise TimeoutError(f"{what} took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
