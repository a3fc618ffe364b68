"""The simulator build cache shared by the cocotb runner and the native bench.

A build lives in ``work_dir/<kind>-<top>-<key>``, ``key`` a hash of
everything that goes into it (sources, tool version, options). Concurrent
runs (pytest-xdist workers, Dask workers) share it through a file lock; a
build counts as done only once its stamp file is written, so an interrupted
build is redone, never reused.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path


def default_work_dir() -> Path:
    """Where simulator builds are cached: ``$HWGEN_SIM_BUILD`` or ``./sim_build``."""
    return Path(os.environ.get("HWGEN_SIM_BUILD", "sim_build")).resolve()


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed) for the ``with`` body."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a log file ('' if it cannot be read)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def build_key(*parts: str) -> str:
    """A 16-hex-digit hash of ``parts``."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def cached_build(work_dir: Path, name: str, key: str, make: Callable[[Path], None]) -> Path:
    """The folder ``work_dir/<name>-<key>``, built by ``make(folder)`` unless a finished build is there."""
    build_dir = Path(work_dir) / f"{name}-{key}"
    stamp = build_dir / "hwgen-build.ok"
    with locked(Path(work_dir) / f".{build_dir.name}.lock"):
        if stamp.exists():
            return build_dir
        if build_dir.exists():
            shutil.rmtree(build_dir)
        build_dir.mkdir(parents=True)
        make(build_dir)
        stamp.write_text(key)
    return build_dir
