"""The decode-attention unit's rule against float attention, its split-range combine, its errors and cycles.

Every level (golden model, independent reference, Amaranth, Verilator, cocotb) runs in tests/test_levels.py;
here: what the rule computes compared with float softmax attention, the Lean Attention split, bad input.
"""

from __future__ import annotations

import numpy as np
import pytest

from hwgen import ConfigError, Int
from hwgen.blocks import DecodeAttentionConfig
from hwgen.intkernels import ExpTable, attention_output, combine_partials, online_attention
from hwgen.vectors import StreamVectors


def _float_attention(q, k, v, shift, scale):
    """Softmax attention in float64 over the same shifted integer scores."""
    s = ((k @ q) >> shift).astype(np.float64) * scale
    w = np.exp(s - s.max())
    return (w / w.sum()) @ v


def _case(rng, d, n, t=Int(8)):
    return (rng.integers(t.min, t.max + 1, d), rng.integers(t.min, t.max + 1, (n, d)),
            rng.integers(t.min, t.max + 1, (n, d)))  # fmt: skip


def test_the_exponential_table_is_exact_at_zero_monotone_and_ends_at_its_last_nonzero_entry():
    e = ExpTable(1 / 16, 15)
    assert e.entries[0] == 1 << 15
    assert all(a >= b for a, b in zip(e.entries, e.entries[1:])) and e.entries[-1] >= 1
    assert list(e(np.array([0, -1, -(e.size - 1), -e.size, -(10**6)]))) == [1 << 15, e.entries[1], e.entries[-1], 0, 0]
    assert e.entries[16] == round(2**15 * np.exp(-1.0))  # t·scale = −1


def test_online_attention_is_within_one_output_lsb_of_float_attention():
    """Random queries (d 16, 1..64 entries, scores spread over ~16 in real units): the integer rule's output
    stays within 1 LSB of float softmax attention over the same scores; most elements round the same way."""
    cfg = DecodeAttentionConfig(head_dim=16, lanes=4, max_kv=64, score_shift=8)
    rng = np.random.default_rng(5)
    errs = []
    for _ in range(300):
        q, k, v = _case(rng, 16, int(rng.integers(1, 65)))
        st = online_attention(q, k, v, cfg.score_shift, cfg.exp)
        y = attention_output(st, cfg.recip_frac, -128, 127)
        errs.append(np.abs(y - _float_attention(q, k, v, cfg.score_shift, cfg.scale)))
    errs = np.concatenate(errs)
    assert errs.max() < 1.0 and np.mean(errs < 0.5) > 0.95


def test_split_kv_ranges_combine_to_within_one_lsb_of_the_single_pass():
    """Lean Attention: each range's state, combined in one step by the same rescaling, normalizes to within
    1 LSB of one pass over the whole cache (the floors differ, the rule is otherwise the same)."""
    e = ExpTable(1 / 16, 15)
    rng = np.random.default_rng(9)
    worst = 0
    for _ in range(100):
        n = int(rng.integers(4, 48))
        q, k, v = _case(rng, 8, n)
        whole = attention_output(online_attention(q, k, v, 6, e), 40, -128, 127)
        cuts = sorted(rng.choice(np.arange(1, n), size=min(3, n - 1), replace=False))
        parts = [online_attention(q, k[a:b], v[a:b], 6, e) for a, b in zip([0, *cuts], [*cuts, n])]
        st = combine_partials(parts, e)
        worst = max(worst, int(np.abs(attention_output(st, 40, -128, 127) - whole).max()))
    assert worst <= 1


def test_cycles_per_kv_entry_are_two_vectors_and_the_score_wait():
    """The cycle model at full rate: ``g`` beats of q, ``2g + 2`` cycles per entry, the outputs from
    ``G + 3`` cycles after the last beat (``g = head_dim / lanes``, ``G`` the reciprocal's fraction)."""
    cfg = DecodeAttentionConfig(head_dim=16, lanes=4, max_kv=32)
    rng = np.random.default_rng(1)
    for n in (1, 7, 32):
        q, k, v = _case(rng, 16, n)
        beats = np.concatenate([q[None], np.stack([k, v], 1).reshape(-1, 16)]).reshape(-1, 4)
        last = (np.arange(len(beats)) == len(beats) - 1).astype(np.int64)
        cm = cfg.cycle_model(StreamVectors(inputs={"i": {"x": beats, "last": last}}, expected={}))
        assert cm["i"][-1] == 4 + n * 10 - 1  # the last value beat: 4 of q, then 10 cycles per entry
        assert cm["o"][0] == cm["i"][-1] + cfg.recip_frac + 3 and len(cm["o"]) == 4


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"head_dim": 10, "lanes": 4}, r"decode_attention\.lanes: 4 does not divide head_dim 10"),
        ({"head_dim": 256}, r"decode_attention\.head_dim: 256 is out of range; allowed 2\.\.128"),
        ({"max_kv": 0}, r"decode_attention\.max_kv: 0 is out of range"),
        ({"act": Int(16)}, r"decode_attention\.act: Int\(16\): a signed integer of 2\.\.12 bits"),
        ({"scale": 1e-4}, r"decode_attention\.scale: 0\.0001 with exp_bits 15 needs a \d+-entry exponential table"),
        ({"scale": 1.0}, r"decode_attention\.scale: 1\.0: a real in \(0, ln 2\]"),
        ({"exp_bits": 24}, r"decode_attention\.exp_bits: 24 is out of range; allowed 4\.\.20"),
        ({"out": Int(6)}, r"decode_attention\.out: Int\(6\) is narrower than act Int\(8\): .*\(at least 8 bits\)"),
    ],
)
def test_bad_configs_name_the_field(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        DecodeAttentionConfig(**kwargs)


def test_a_query_that_is_not_q_then_key_value_pairs_is_rejected():
    cfg = DecodeAttentionConfig(head_dim=4, lanes=2, max_kv=2)
    x = np.zeros((5, 2), np.int64)  # q, one key, half a value
    last = np.array([0, 0, 0, 0, 1])
    with pytest.raises(ConfigError, match=r"last: a query of 5 beats; one is 2 beats of q then 2 of k and 2 of v"):
        cfg.model(x, last)
    x, last = np.zeros((14, 2), np.int64), np.eye(14, dtype=np.int64)[13]  # three entries, max_kv 2
    with pytest.raises(ConfigError, match=r"\(1\.\.2 entries\)"):
        cfg.model(x, last)
