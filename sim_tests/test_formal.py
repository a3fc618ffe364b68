"""Formal proofs and mutation testing (hwgen prove / hwgen mutate).

In `make test`: the fastest formal configurations prove; a mutant the native bench kills also fails the
proof, naming the violated property (a wrong design fails the formal flow too); a mutation campaign on a
small MAC PE reaches the 95 % goal with every mutant accounted for; the CLI works on a design file and
rejects bad arguments in one line. `make test-full`: every block's formal configurations and a campaign
per block.
"""

from __future__ import annotations

import pytest

from hwgen.blocks import BLOCKS, MacPEConfig, TernaryPEConfig
from hwgen.cli import main
from hwgen.numtype import Int
from hwgen.sim.formal import formal_table, proof_bounds, prove_config, prove_verilog
from hwgen.sim.mutate import CONTROL, mutate_netlist, run_mutants
from hwgen.sim.verify import make_vectors
from hwgen.verilog import to_verilog

SMALL = MacPEConfig(lanes=2, pipeline=0, act=Int(3), weight=Int(3), acc=Int(6), overflow="wrap", max_len=3)


def test_small_blocks_prove(tmp_path) -> None:
    for name, cfg in [("mac_pe.small", SMALL), ("ternary.small", TernaryPEConfig.formal_configs()["l2_int3"])]:
        r = prove_config(name, cfg, work_dir=tmp_path)
        assert r.verdict in ("proved", "bounded") and r.depth == cfg.timing().latency + 8, r.line()


def test_a_killed_mutant_fails_the_proof(tmp_path) -> None:
    """Mutant 1 of the small MAC PE (seed 1) inverts a datapath bit; the bench kills it, and the proof must
    fail too, with a counterexample trace."""
    top = "formal_mac"
    work = tmp_path / "m"
    work.mkdir()
    verilog = to_verilog(SMALL.component(), top)
    mutated, commands, width = mutate_netlist(verilog, top, 20, 1, work)
    report = run_mutants(
        "mac_small", SMALL, verilog, top, make_vectors(SMALL, 200, 1), n=20, prove_survivors=False, work_dir=tmp_path
    )
    killed = next(m.index for m in report.mutants if m.fate == "killed")
    queue, wait, depth = proof_bounds(SMALL)

    def prove_mutant(k: int):
        return prove_verilog(
            f"mac_small.mutant{k}",
            mutated,
            top,
            SMALL.component(),
            SMALL.reference(),
            queue=queue,
            wait=wait,
            depth=depth,
            controls={CONTROL: (width, k)},
            work_dir=tmp_path,
        )

    r = prove_mutant(killed)
    assert r.verdict == "failed" and r.detail.startswith("violated: "), r.line()
    assert (r.work / "prove" / "engine_0").exists()
    ok = prove_mutant(0)
    assert ok.passed, ok.line()


def test_mutation_campaign_meets_the_goal(tmp_path) -> None:
    top = "mutate_mac"
    rep = run_mutants(
        "mac_small",
        SMALL,
        to_verilog(SMALL.component(), top),
        top,
        make_vectors(SMALL, 300, 1),
        n=40,
        work_dir=tmp_path,
    )
    assert len(rep.mutants) == 40
    assert rep.count("killed") + rep.count("equivalent") + rep.count("survivor") + rep.count("unknown") == 40
    assert rep.count("killed") >= 30 and rep.kill_rate >= 0.95, rep.line()


def test_cli_prove_and_mutate_a_design(tmp_path, capsys) -> None:
    design = tmp_path / "small.toml"
    design.write_text(
        '[design]\nname = "small_mac"\ntop = "mac_pe"\n[params]\nlanes = 2\npipeline = 0\n'
        'act = "Int(3)"\nweight = "Int(3)"\nacc = "Int(6)"\noverflow = "wrap"\nmax_len = 3\n'
    )
    assert main(["prove", str(design), "--work-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "small_mac: bounded to depth 9" in out and "1 proofs: 0 proved, 1 bounded, 0 failed" in out
    assert main(["mutate", str(design), "-n", "20", "--work-dir", str(tmp_path)]) == 0
    assert "small_mac: 20 mutants" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, where",
    [
        (["prove"], "design"),
        (["prove", "x.toml", "--block", "mac_pe"], "--block"),
        (["prove", "--block", "nope"], "--block"),
        (["mutate", "--block", "nope"], "--block"),
    ],
)
def test_cli_bad_arguments(argv, where, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"hwgen: error: {where}"), err


@pytest.mark.slow
@pytest.mark.parametrize("name, cfg", formal_table(sorted(BLOCKS)), ids=lambda v: v if isinstance(v, str) else "")
def test_every_formal_config_proves(name, cfg, tmp_path) -> None:
    r = prove_config(name, cfg, timeout_s=600, work_dir=tmp_path)
    assert r.passed, r.line()


@pytest.mark.slow
@pytest.mark.parametrize("block", sorted(BLOCKS))
def test_mutation_goal_per_block(block, tmp_path) -> None:
    name, cfg = formal_table([block])[0]
    top = f"mutate_{block}"
    rep = run_mutants(
        name,
        cfg,
        to_verilog(cfg.component(), top),
        top,
        make_vectors(cfg, 300, 1),
        n=60,
        timeout_s=300,
        work_dir=tmp_path,
    )
    assert rep.kill_rate >= 0.95, rep.line() + "".join(
        f"\n  {m.fate}: {m.command}" for m in rep.mutants if m.fate == "survivor"
    )
