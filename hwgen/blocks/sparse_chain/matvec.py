"""Host-side driver: stream a matrix-vector product ``y = W·x`` through the chain in one N:M mode."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...errors import ConfigError
from ...sparse import NMPattern, compress
from ...vectors import StreamVectors

if TYPE_CHECKING:
    from .config import SparseChainConfig


def matvec_vectors(
    cfg: SparseChainConfig, W: np.ndarray, x: np.ndarray, pattern: str, x1: np.ndarray | None = None
) -> StreamVectors:
    """Stream ``y = W·x`` (W already N:M sparse for ``pattern``) through the chain in that mode.

    Rows are taken ``M/N`` at a time (one per group); ``W``'s columns and ``x``
    are zero-padded to a multiple of ``S``. Returns vectors whose expected
    output ``y[q]`` of accumulation ``r`` is row ``r·M/N + q``.
    """
    p = NMPattern.parse(pattern, "pattern")
    if str(p) not in [str(q) for q in cfg.nm]:
        raise ConfigError("pattern", f"{p} is not one of this chain's patterns {list(cfg.patterns)}")
    mode = [str(q) for q in cfg.nm].index(str(p))
    S, g = cfg.stages, cfg.group_len(p)
    per = S // g
    K = -(-W.shape[1] // S) * S
    rows = -(-W.shape[0] // per) * per
    Wp = np.zeros((rows, K), dtype=np.int64)
    Wp[: W.shape[0], : W.shape[1]] = W
    xp = np.zeros(K, dtype=np.int64)
    xp[: x.size] = x
    x1p = np.zeros(K, dtype=np.int64)
    if x1 is not None:
        x1p[: x1.size] = x1
    c = compress(Wp, p)
    nb = K // S
    fields: dict[str, list] = {k: [] for k in ("x", "x1", "w", "idx", "mode", "last")}
    for r0 in range(0, rows, per):
        for b in range(nb):
            fields["x"].append(xp[b * S : (b + 1) * S])
            fields["x1"].append(x1p[b * S : (b + 1) * S])
            fields["w"].append(np.concatenate([c.values[r0 + q, b * g : (b + 1) * g] for q in range(per)]))
            fields["idx"].append(np.concatenate([c.indices[r0 + q, b * g : (b + 1) * g] for q in range(per)]))
            fields["mode"].append(mode)
            fields["last"].append(int(b == nb - 1))
    arr = {k: np.array(v) for k, v in fields.items()}
    y, y1 = cfg.model(arr["x"], arr["w"], arr["idx"], arr["mode"], arr["last"], arr["x1"] if cfg.pack_int8 else None)
    inputs = {k: arr[k] for k in ("x", "w", "idx", "mode", "last")} | ({"x1": arr["x1"]} if cfg.pack_int8 else {})
    return StreamVectors(
        inputs={"i": inputs},
        expected={"o": {"y": y} | ({"y1": y1} if cfg.pack_int8 else {})},
        triggers={"o": ("i", np.flatnonzero(arr["last"]))},
        corners=[f"W·x in {p}"],
    )
