"""The block library: every generator hwgen offers, by registry name.

Each block is a :class:`~hwgen.config.BlockConfig` subclass meeting the block
contract (see :mod:`hwgen.config`). A new block is one module or folder here
plus one line in :data:`BLOCKS`.
"""

from __future__ import annotations

from ..config import BlockConfig
from ..errors import ConfigError
from .activation import ActivationConfig
from .attention import DecodeAttentionConfig
from .bitserial import BitSerialPEConfig
from .gemm import GemmCoreConfig, RecordCoreConfig
from .lowbit import MixPEConfig, OliveMACConfig, TernaryPEConfig
from .mac_pe import MacPE, MacPEConfig
from .norm import NormConfig
from .softmax import SoftmaxConfig
from .sparse_chain import SparseChainConfig
from .systolic import SystolicArrayConfig
from .topk import TopKConfig

#: Registry name -> config class of every block.
BLOCKS: dict[str, type[BlockConfig]] = {
    cls.block_name: cls
    for cls in (
        MacPEConfig,
        SystolicArrayConfig,
        SparseChainConfig,
        BitSerialPEConfig,
        MixPEConfig,
        OliveMACConfig,
        TernaryPEConfig,
        GemmCoreConfig,
        RecordCoreConfig,
        SoftmaxConfig,
        ActivationConfig,
        TopKConfig,
        NormConfig,
        DecodeAttentionConfig,
    )
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
    "SoftmaxConfig",
    "ActivationConfig",
    "TopKConfig",
    "NormConfig",
    "DecodeAttentionConfig",
]
