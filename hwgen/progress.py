"""Progress output for long steps (tool builds, simulations, synthesis).

``with step("building Verilator model"):`` prints the step when it starts, a
heartbeat while it runs (every second on a terminal, every 15 s otherwise,
optionally with a status line read from a callback) and the elapsed time when
it ends. Output goes to stderr so ``--json`` output on stdout stays clean.
Quiet when ``HWGEN_QUIET=1``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def _quiet() -> bool:
    return os.environ.get("HWGEN_QUIET", "") not in ("", "0")


def say(text: str) -> None:
    """One line of progress to stderr."""
    if not _quiet():
        print(f"[hwgen] {text}", file=sys.stderr, flush=True)


@contextmanager
def step(text: str, status: Callable[[], str | None] | None = None, *, after: float = 0.0) -> Iterator[None]:
    """Announce a long step, show a heartbeat while it runs, report its time.

    With ``after`` > 0 the step stays silent unless it is still running ``after`` seconds in (so quick
    steps print nothing); from then on it reports like any other."""
    if _quiet():
        yield
        return
    tty = sys.stderr.isatty()
    t0 = time.monotonic()
    stop = threading.Event()
    announced = threading.Event()

    def announce() -> None:
        if not announced.is_set():
            announced.set()
            print(f"[hwgen] {text} ...", file=sys.stderr, flush=True)

    def beat() -> None:
        if after > 0:
            if stop.wait(after):
                return
            announce()
        period = 1.0 if tty else 15.0
        while not stop.wait(period):
            extra = status() if status else None
            line = f"[hwgen]   {text}: {time.monotonic() - t0:5.0f} s" + (f" — {extra}" if extra else "")
            if tty:
                print("\r" + line[:150].ljust(150), end="", file=sys.stderr, flush=True)
            else:
                print(line, file=sys.stderr, flush=True)

    if after <= 0:
        announce()
    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    ok = False
    try:
        yield
        ok = True
    finally:
        stop.set()
        thread.join()
        if announced.is_set():
            if tty:
                print("\r" + " " * 150 + "\r", end="", file=sys.stderr)
            print(
                f"[hwgen] {text}: {'done' if ok else 'FAILED'} in {time.monotonic() - t0:.1f} s",
                file=sys.stderr,
                flush=True,
            )
