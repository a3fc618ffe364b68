"""The native bench's pieces that need no simulator: the stall decisions and the file formats."""

from __future__ import annotations

import numpy as np

from hwgen.sim.native import NativePort, bench_file, read_results
from hwgen.sim.native_build import MAGIC, Cursor, global_objects, u64_bytes
from hwgen.sim.streams import IN_GAP, MASK64, OUT_STALL, OffchipMemory, Phase, decision, splitmix64, threshold


def test_splitmix64_matches_the_published_sequence():
    """splitmix64 from state 0 (Vigna's reference splitmix64.c): the first outputs of the sequence."""
    gamma = 0x9E3779B97F4A7C15
    assert splitmix64(0) == 0xE220A8397B1DCDAF
    assert splitmix64(gamma) == 0x6E789E6AA1B965F4
    assert splitmix64(2 * gamma & MASK64) == 0x06C45D188009454F


def test_decisions_hit_the_probability_and_differ_by_port_and_kind():
    t = threshold(0.3)
    hits = [decision(5, IN_GAP, 0, c) < t for c in range(20000)]
    assert abs(np.mean(hits) - 0.3) < 0.02
    assert [decision(5, IN_GAP, 0, c) for c in range(50)] != [decision(5, IN_GAP, 1, c) for c in range(50)]
    assert [decision(5, IN_GAP, 0, c) for c in range(50)] != [decision(5, OUT_STALL, 0, c) for c in range(50)]
    assert threshold(0.0) == 0 and threshold(1.0) == MASK64


def test_wide_payloads_survive_the_file_formats():
    """A 81-bit input and a 70-bit output: beats written as 32-bit words, results decoded back exactly."""
    ins, outs = [NativePort("a", 81)], [NativePort("o", 70)]
    beats = [0, 1, (1 << 81) - 1, (1 << 80) | 12345]
    data = bench_file(ins, outs, {"a": beats}, {"o": [7]}, [Phase("p", memory=OffchipMemory(2.0, 3))],
                      timeout_cycles=9, drain_cycles=4)  # fmt: skip
    cur = Cursor(data)
    assert cur.u64s(5).tolist() == [MAGIC, 0, 9, 4, 0]
    assert cur.u64s(2).tolist() == [0, 4]  # decision index, beats
    assert cur.words(4, 3) == beats
    assert cur.u64s(2).tolist() == [0, 1]  # output: decision index, expected beats
    assert cur.u64() == 1  # phases
    assert cur.u64s(4).tolist() == [1, 0, 0, 1]  # seed, no gap/stall thresholds, memory
    assert cur.u64s(4).tolist() == OffchipMemory(2.0, 3).arrivals(4)
    outs_words = [(1 << 70) - 1, 5]
    result = u64_bytes(10, (1 << 64) - 1) + np.float64(0.25).tobytes() + u64_bytes(2, 0, 1) + u64_bytes(1, 4, 2, 6, 8)
    result += b"".join(x.to_bytes(12, "little") for x in outs_words)
    [res] = read_results(result, ins, outs, [Phase("p")])
    assert (res.cycles, res.timeout_cycle, res.seconds, res.accepted, res.first_valid, res.taken, res.got) == (
        10, None, 0.25, {"a": [0, 1]}, {"o": [4]}, {"o": [6, 8]}, {"o": outs_words}
    )  # fmt: skip


def test_runtime_objects_are_read_from_the_class_list(tmp_path):
    mk = tmp_path / "Vx_classes.mk"
    mk.write_text("VM_GLOBAL_FAST += \\\n  verilated \\\n  verilated_threads \\\n\nVM_GLOBAL_SLOW += \\\n\n")
    assert global_objects(mk) == ["verilated", "verilated_threads"]
