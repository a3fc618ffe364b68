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
def step(text: str, status: Callable[[], str | None] | None = None) -> Iterator[None]:
    """Announce a long step, show a heartbeat while it runs, report its time."""
    if _quiet():
        yield
        return
    tty = sys.stderr.isatty()
    t0 = time.monotonic()
    stop = threading.Event()
    print(f"[hwgen] {text} ...", file=sys.stderr, flush=True)

    def beat() -> None:
        period = 1.0 if tty else 15.0
        while not stop.wait(period):
            extra = status() if status else None
            line = f"[hwgen]   {text}: {time.monotonic() - t0:5.0f} s" + (f" — {extra}" if extra else "")
            if tty:
                print("\r" + line[:150].ljust(150), end="", file=sys.stderr, flush=True)
            else:
                print(line, file=sys.stderr, flush=True)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    ok = False
    try:
        yield
        ok = True
    finally:
        stop.set()
        thread.join()
        if tty:
            print("\r" + " " * 150 + "\r", end="", file=sys.stderr)
        print(
            f"[hwgen] {text}: {'done' if ok else 'FAILED'} in {time.monotonic() - t0:.1f} s",
            file=sys.stderr,
            flush=True,
        )
