"""The block library: every generator hwgen offers, by registry name.

Each block is a :class:`~hwgen.config.BlockConfig` subclass that builds its
Amaranth component, runs its golden model and gives its timing model.
"""

from __future__ import annotations

from ..config import BlockConfig
from ..errors import ConfigError
from .bitserial import BitSerialPEConfig
from .gemm_core import GemmCoreConfig
from .lowbit_pes import MixPEConfig, OliveMACConfig, TernaryPEConfig
from .mac_pe import MacPE, MacPEConfig
from .record_core import RecordCoreConfig
from .sparse_chain import SparseChainConfig
from .systolic import SystolicArrayConfig

BLOCKS: dict[str, type[BlockConfig]] = {
    MacPEConfig.block_name: MacPEConfig,
    SystolicArrayConfig.block_name: SystolicArrayConfig,
    SparseChainConfig.block_name: SparseChainConfig,
    BitSerialPEConfig.block_name: BitSerialPEConfig,
    MixPEConfig.block_name: MixPEConfig,
    OliveMACConfig.block_name: OliveMACConfig,
    TernaryPEConfig.block_name: TernaryPEConfig,
    GemmCoreConfig.block_name: GemmCoreConfig,
    RecordCoreConfig.block_name: RecordCoreConfig,
}


def block_class(name: str, where: str = "design.top") -> type[BlockConfig]:
    """The config class registered as ``name``; a :class:`ConfigError` listing the known ones otherwise."""
    try:
        return BLOCKS[name]
    except (KeyError, TypeError):
        raise ConfigError(where, f"unknown block {name!r}; available: {', '.join(sorted(BLOCKS))}") from None


__all__ = [
    "BLOCKS",
    "block_class",
    "MacPE",
    "MacPEConfig",
    "SystolicArrayConfig",
    "SparseChainConfig",
    "BitSerialPEConfig",
    "MixPEConfig",
    "OliveMACConfig",
    "TernaryPEConfig",
    "GemmCoreConfig",
    "RecordCoreConfig",
]
