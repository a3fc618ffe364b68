"""BitMoD end to end: quantize a weight matrix per group of 32 to the best of FP4-ER/EA ±, run the
matrix-vector product on 4 bit-serial PEs (8 lanes each), and match NumPy exactly.

    hwgen sim examples/bitmod_matvec.py --vectors 20     # 20 activation vectors through the array

Each PE computes one output row; a beat carries 8 activations (shared by the 4 PEs) and every row's 8
weight codes, its group's datatype id and 8-bit group scale. The result y is an integer in units of
each row's second-level scale s_ch: y = Σ_g scale_q[g] · Σ_k a_k · grid_value(code_k).
"""

import numpy as np

from hwgen import Design, Int
from hwgen.blocks import BitSerialPEConfig
from hwgen.lowbit import BITMOD_FP4, quantize_groups
from hwgen.vectors import StreamVectors

ROWS, K, GROUP, LANES = 4, 256, 32, 8
rng = np.random.default_rng(7)
weights = rng.normal(0.0, 0.02, (ROWS, K))
weights[rng.random((ROWS, K)) < 0.01] *= 8  # a few outliers, as in LLM weight matrices
quant = quantize_groups(weights, BITMOD_FP4, group=GROUP)

config = BitSerialPEConfig(
    rows=ROWS, lanes=LANES, formats=BITMOD_FP4, act=Int(8), max_group=GROUP, max_groups=K // GROUP
)


def matvec(rng: np.random.Generator, n: int) -> StreamVectors:
    """``n`` INT8 activation vectors times the quantized matrix, with NumPy's answer as the expectation."""
    beats = {k: [] for k in ("a", "code", "fmt", "scale", "group_last", "last")}
    expected = []
    grid = quant.grid_values()
    for _ in range(max(1, n)):
        a = rng.integers(-128, 128, K)
        for b in range(K // LANES):
            k0, g = b * LANES, b * LANES // GROUP
            beats["a"].append(a[k0 : k0 + LANES])
            beats["code"].append(quant.codes[:, k0 : k0 + LANES])
            beats["fmt"].append(quant.dtype_id[:, g])
            beats["scale"].append(quant.scale_q[:, g])
            beats["group_last"].append(int((k0 + LANES) % GROUP == 0))
            beats["last"].append(int(b == K // LANES - 1))
        # NumPy, independently of the PE's golden model: Σ_g s_g · Σ_k a_k · grid
        per_group = (grid * a).reshape(ROWS, K // GROUP, GROUP).sum(axis=2)
        expected.append((per_group * quant.scale_q).sum(axis=1))
    arr = {k: np.array(v) for k, v in beats.items()}
    y = np.array(expected, dtype=np.int64)
    model = config.model(arr["a"], arr["code"], arr["fmt"], arr["scale"], arr["group_last"], arr["last"])
    assert np.array_equal(model, y), "the PE's golden model disagrees with NumPy's matrix-vector product"
    return StreamVectors(
        inputs={"i": arr},
        expected={"o": y},
        triggers={"o": ("i", np.flatnonzero(arr["last"]))},
        corners=[f"{ROWS}x{K} BitMoD-quantized matrix (group {GROUP}) times {max(1, n)} vectors"],
    )


design = Design(name="bitmod_matvec", top=config, board="zcu104", stimulus=matvec)
