"""Building and running hwgen's native Verilator harnesses (:mod:`hwgen.sim.native`,
:mod:`hwgen.sim.native_memory`): one cached build per (Verilog, harness, Verilator version, options), the
binary file format's helpers, and a run with progress.

A harness is a C++ ``main`` rendered from ``templates/sim``; ``verilator --cc --exe --build`` compiles it with
the design into ``<build>/obj/bench``, run as ``bench IN OUT PROGRESS``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from ..errors import ToolError
from ..primitives import with_sim_models
from ..progress import step
from ..tools import verilator_bin
from .builds import build_key, cached_build, default_work_dir, tail

MAGIC = 0x3130544E4E475748
NONE = (1 << 64) - 1
#: Verilator options of native builds (as for cocotb's: lint is a separate check).
NATIVE_VERILATOR_ARGS = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "-O3"]
#: C++ optimization of the design model: -O1 runs 4-6x faster than -O0 and within ~15% of -O2, and builds
#: in 2/3 of -O2's time. ``make test`` uses -O0 (short runs, many builds).
DEFAULT_NATIVE_OPT = "-O1"
#: Verilator's runtime library (verilated.cpp, ...) is compiled once per work folder at this level and
#: linked into every harness: it is the same for every design, and compiling it took half of each build.
RUNTIME_OPT = "-O2"


def native_opt() -> str:
    """The C++ optimization level of native builds: ``$HWGEN_NATIVE_OPT`` or -O1."""
    return os.environ.get("HWGEN_NATIVE_OPT", DEFAULT_NATIVE_OPT)


def _run_logged(cmd: list[str], cwd: Path, log: Path, what: str) -> None:
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        rc = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        raise ToolError("verilator", f"{what} failed (exit {rc}); log {log}", tail(log))


def global_objects(classes_mk: Path) -> list[str]:
    """The runtime objects a Verilator model links (``VM_GLOBAL_FAST``/``_SLOW`` of ``V<top>_classes.mk``)."""
    names, collecting = [], False
    for line in classes_mk.read_text().splitlines():
        if line.startswith(("VM_GLOBAL_FAST +=", "VM_GLOBAL_SLOW +=")):
            collecting = True
        elif collecting and line.strip().rstrip("\\").strip():
            names.append(line.strip().rstrip("\\").strip())
        else:
            collecting = False
    return names


def _compiler_id() -> str:
    cxx = os.environ.get("CXX", "c++")
    try:
        return cxx + subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    except OSError:
        return cxx


def _runtime(obj: Path, top: str, work_dir: Path, log: Path) -> None:
    """Put the cached runtime objects into ``obj`` (compiling them there first if this work folder has none)."""
    import verilator

    names = global_objects(obj / f"V{top}_classes.mk")
    env_flags = os.environ.get("CXXFLAGS", "") + os.environ.get("CPPFLAGS", "")
    key = build_key(verilator.__version__, RUNTIME_OPT, env_flags, _compiler_id(), *NATIVE_VERILATOR_ARGS, *names)

    def make(folder: Path) -> None:
        targets = [f"{n}.o" for n in names]
        _run_logged(["make", "-f", f"V{top}.mk", f"OPT_GLOBAL={RUNTIME_OPT}", *targets], obj, log, "the runtime")
        for t in targets:
            shutil.copy2(obj / t, folder / t)

    folder = cached_build(work_dir, "verilator-runtime", key, make)
    for n in names:
        if not (obj / f"{n}.o").exists():
            shutil.copy2(folder / f"{n}.o", obj / f"{n}.o")
        os.utime(obj / f"{n}.o")  # newer than the freshly generated makefile: make keeps it


def build_native(verilog: str, top: str, harness: str, *, kind: str = "native", work_dir: Path | None = None) -> Path:
    """Verilate ``verilog`` with the C++ ``harness`` into an executable (cached by hash); returns its path.

    The model is compiled as one translation unit (no precompiled headers: for one executable they cost more
    than they save) and linked with the shared runtime objects."""
    import verilator

    exe = verilator_bin()
    opt = native_opt()
    work_dir = Path(work_dir or default_work_dir())
    key = build_key(verilog, harness, verilator.__version__, top, opt, RUNTIME_OPT, *NATIVE_VERILATOR_ARGS)

    def make(build_dir: Path) -> None:
        (build_dir / f"{top}.v").write_text(with_sim_models(verilog))
        (build_dir / "harness.cpp").write_text(harness)
        log, obj = build_dir / "build.log", build_dir / "obj"
        cmd = [
            str(exe), "--cc", "--exe", f"{top}.v", "harness.cpp", "--top-module", top,
            "--Mdir", "obj", "-o", "bench", *NATIVE_VERILATOR_ARGS,
        ]  # fmt: skip
        with step(f"verilator: building the native bench of {top}"):
            _run_logged(cmd, build_dir, log, f"verilating {top}")
            _runtime(obj, top, work_dir, log)
            jobs = f"-j{min(4, os.cpu_count() or 1)}"
            make_cmd = ["make", "-f", f"V{top}.mk", f"OPT_FAST={opt}", f"OPT_SLOW={opt}", "VM_PARALLEL_BUILDS=0", jobs]
            _run_logged(make_cmd, obj, log, f"compiling the native bench of {top}")
        if not (obj / "bench").exists():
            raise ToolError("verilator", f"building the native bench of {top} left no executable; log {log}")

    return cached_build(work_dir, f"{kind}-{top}", key, make) / "obj" / "bench"


def u64_bytes(*values: int) -> bytes:
    """64-bit little-endian unsigned integers."""
    return np.asarray(values, dtype="<u8").tobytes()


class Cursor:
    """Reads a harness's result file front to back."""

    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def u64s(self, n: int) -> np.ndarray:
        out = np.frombuffer(self.data, dtype="<u8", count=n, offset=self.at)
        self.at += 8 * n
        return out

    def u64(self) -> int:
        return int(self.u64s(1)[0])

    def f64(self) -> float:
        out = float(np.frombuffer(self.data, dtype="<f8", count=1, offset=self.at)[0])
        self.at += 8
        return out

    def counted(self) -> list[int]:
        return self.u64s(self.u64()).tolist()

    def words(self, beats: int, words: int) -> list[int]:
        raw = np.frombuffer(self.data, dtype="<u4", count=beats * words, offset=self.at)
        self.at += 4 * beats * words
        if words == 1:
            return raw.tolist()
        if words == 2:
            return raw.view("<u8").tolist()
        blob = raw.tobytes()
        return [int.from_bytes(blob[4 * words * k : 4 * words * (k + 1)], "little") for k in range(beats)]


def run_binary(binary: Path, data: bytes, what: str, args: list[str] | None = None) -> tuple[bytes, float]:
    """Run the harness on ``data`` (``args``: control values after the file names); returns its result file
    and the seconds it ran."""
    with tempfile.TemporaryDirectory(prefix="run-", dir=binary.parent.parent) as tmp:
        bench, result, progress = Path(tmp) / "bench.bin", Path(tmp) / "result.bin", Path(tmp) / "progress.txt"
        bench.write_bytes(data)

        def status() -> str | None:
            try:
                return progress.read_text()
            except OSError:
                return None

        with step(what, status, after=2.0):
            t0 = time.perf_counter()
            proc = subprocess.run(
                [str(binary), str(bench), str(result), str(progress), *(args or [])], capture_output=True, text=True
            )
            seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            raise ToolError("native bench", f"{binary} exited with {proc.returncode}", proc.stderr[-2000:])
        return result.read_bytes(), seconds
