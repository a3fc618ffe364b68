"""The block contract: what every generator in :mod:`hwgen.blocks` provides.

A block is a frozen, keyword-only dataclass deriving from :class:`BlockConfig`.
Its fields are the block's parameters; each field's ``metadata`` carries a
one-line ``doc`` and, where useful, the ``allowed`` values as text (shown by
``hwgen blocks``). The config validates itself on construction, so an invalid
config never exists. Every block implements, with these names and shapes:

* :meth:`~BlockConfig.validate` — raise :class:`~hwgen.errors.ConfigError`
  naming ``block.field`` for any value the generator cannot build;
* :meth:`~BlockConfig.component` — the Amaranth ``wiring.Component`` with
  ``amaranth.lib.stream`` valid/ready ports;
* :meth:`~BlockConfig.model` — the golden model on raw integers (its
  arguments are the block's input fields; exact semantics in its docstring);
* :meth:`~BlockConfig.stimulus` — ``(rng, n, *, corners)`` → random vectors
  plus corner cases with the golden model's responses
  (:class:`~hwgen.vectors.StreamVectors`);
* :meth:`~BlockConfig.cycle_model` — ``(vectors, *, arrivals)`` →
  ``{port: [cycle of each beat]}``: when every input beat is taken and every
  output beat first becomes valid (outputs always ready), exact;
* :meth:`~BlockConfig.timing` — latency, initiation interval and throughput
  for reports;
* :meth:`~BlockConfig.features` — structural counts per sub-block for the
  analytic estimator (:mod:`hwgen.structure`); ``None`` means "not
  estimated";
* :meth:`~BlockConfig.test_configs` — the block's configuration table, the
  one set of configurations every verification level runs;
* :meth:`~BlockConfig.reference` and :meth:`~BlockConfig.formal_configs` —
  a plain behavioural reference (:class:`hwgen.reference.Reference`) and the
  small configurations ``hwgen prove`` proves the generated design equal to it.

A new block is one module (or folder) under ``hwgen/blocks/`` plus one line in
:data:`hwgen.blocks.BLOCKS`; ``tests/test_contract.py`` proves that every
registered block builds, lints, simulates, estimates and reports.
"""

from __future__ import annotations

import dataclasses
import types
import typing
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .errors import ConfigError
from .numtype import NumType
from .structure import Features, TimingPath
from .vectors import StreamVectors

#: input port -> first cycle each beat can be offered (e.g. from an off-chip memory model)
Arrivals = dict[str, list[int]]
#: port -> cycle of each beat: inputs when taken, outputs when first valid
CycleModel = dict[str, list[int]]


def param(default: Any, doc: str, allowed: str = "") -> Any:
    """A config field with documentation for ``hwgen blocks`` and error messages."""
    return field(default=default, metadata={"doc": doc, "allowed": allowed})


@dataclass(frozen=True)
class Timing:
    """Cycle-exact timing of a block.

    Attributes:
        latency: cycles from the rising edge that accepts the input beat which
            completes a result to the first cycle that result is valid at the
            output (no back-pressure).
        ii: initiation interval, cycles per input beat at full rate.
        ops_per_beat: arithmetic operations (MACs) done per input beat.
        notes: how the figures are derived, for reports.
    """

    latency: int
    ii: int = 1
    ops_per_beat: int = 1
    notes: str = ""

    def throughput_ops_per_s(self, clock_mhz: float) -> float:
        return self.ops_per_beat / self.ii * clock_mhz * 1e6


@dataclass(frozen=True, kw_only=True)
class BlockConfig:
    """Base of every block's configuration (frozen, keyword-only)."""

    #: Registry name of the block, e.g. ``"mac_pe"``.
    block_name: ClassVar[str] = ""
    #: One-line description shown by ``hwgen blocks``.
    summary: ClassVar[str] = ""
    #: Timing parameters a user may leave ``None`` ("auto": chosen for the design's target clock by
    #: :func:`hwgen.estimate.timing.for_clock`), with the value a config built outside a design gets.
    #: Dotted names reach a nested config (``"pe.pipeline"``).
    auto_defaults: ClassVar[dict[str, Any]] = {}

    def __post_init__(self) -> None:
        self._fill_auto()
        self._check_field_types()
        self.validate()

    def _fill_auto(self) -> None:
        """Give every auto (``None``) timing parameter its default and remember which ones were auto
        (``_auto``) and which of those a retargeting has set since (``_chosen``: defaults leave them be)."""
        auto: set[str] = set()
        chosen: set[str] = set()
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, BlockConfig):
                auto |= {f"{f.name}.{n}" for n in value.auto_params}
                chosen |= {f"{f.name}.{n}" for n in value._chosen}
        for name, default in self.auto_defaults.items():
            head, _, rest = name.partition(".")
            if rest:
                if name in auto and name not in chosen and getattr(getattr(self, head), rest) != default:
                    inner = getattr(self, head).with_params({rest: default}, chosen=False)
                    object.__setattr__(self, head, inner)
            elif getattr(self, name) is None:
                object.__setattr__(self, name, default)
                auto.add(name)
        _set_marks(self, auto, chosen)

    @property
    def auto_params(self) -> frozenset[str]:
        """The timing parameters left to hwgen (dotted for nested configs)."""
        return _MARKS.get(id(self), _NO_MARKS)[0]

    @property
    def _chosen(self) -> frozenset[str]:
        return _MARKS.get(id(self), _NO_MARKS)[1]

    def with_params(self, values: dict[str, Any], *, chosen: bool = True) -> BlockConfig:
        """A copy with ``values`` set (dotted names reach nested configs). Parameters that were auto stay
        marked auto, so the copy can be retargeted; with ``chosen`` they count as set for a target."""
        direct = {k: v for k, v in values.items() if "." not in k}
        for key in {k.split(".", 1)[0] for k in values if "." in k}:
            sub = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith(key + ".")}
            direct[key] = getattr(self, key).with_params(sub, chosen=chosen)
        new = dataclasses.replace(self, **direct)
        mine = {k for k in self.auto_params if "." not in k}
        picked = {k for k in values if "." not in k and k in mine} if chosen else set()
        _set_marks(new, new.auto_params | mine, new._chosen | picked | {k for k in self._chosen if "." not in k})
        return new

    def timing_candidates(self, family: str) -> list[dict[str, Any]]:
        """Settings of the auto timing parameters to try for a target clock on ``family``, cheapest first
        (each a ``with_params`` dict); :func:`hwgen.estimate.timing.for_clock` takes the first that meets it."""
        return []

    def result_wait(self) -> int:
        """The most cycles a result can take after the input beat that completes it, output always ready
        (the formal proof's bound): the latency, unless results of one input come out over a stretch that
        depends on the data (a softmax row: its length)."""
        return self.timing().latency

    def proof_span(self) -> int:
        """Cycles the longest accumulation of a formal configuration takes to stream in (the formal proof's
        depth is this plus :meth:`result_wait`): 8 covers the 2-3 beat accumulations most blocks' formal
        tables use; a block whose inputs take longer (a whole query) says how long."""
        return 8

    def vendor_cells(self) -> dict[str, str]:
        """Vendor cells the hardware instantiates directly, as ``{cell: family}`` (a design must target that
        family); by default those of the nested configs."""
        cells: dict[str, str] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, BlockConfig):
                cells |= value.vendor_cells()
        return cells

    def timing_paths(self, family: str) -> list[TimingPath]:
        """The register-to-register path shapes that bound the clock (:class:`hwgen.structure.TimingPath`),
        for the Fmax estimate; empty: the block has no Fmax estimate."""
        return []

    # -- to be provided by each block -------------------------------------
    def validate(self) -> None:
        """Raise :class:`ConfigError` naming ``block.field`` for any bad value."""

    def component(self) -> Any:
        """Build the Amaranth ``wiring.Component`` for this configuration."""
        raise NotImplementedError(f"{type(self).__name__}.component")

    def model(self, *inputs: Any) -> Any:
        """Golden model: the exact integer responses to the block's input fields (see each block)."""
        raise NotImplementedError(f"{type(self).__name__}.model")

    def stimulus(self, rng: np.random.Generator, n: int = 1000, *, corners: bool = True) -> StreamVectors:
        """``n`` random cases (the block says what one case is) plus, with ``corners``, the corner cases,
        with the golden model's responses."""
        raise NotImplementedError(f"{type(self).__name__}.stimulus")

    def cycle_model(self, vectors: StreamVectors, *, arrivals: Arrivals | None = None) -> CycleModel:
        """Exact cycle of every transfer of ``vectors`` with outputs always ready: input port -> the cycle
        each beat is taken, output port -> the first cycle each beat is valid. ``arrivals`` gives, per
        input port, the first cycle each beat is offered (default: every beat offered at once, full rate).
        Cycle 0 is the first cycle with reset low."""
        raise NotImplementedError(f"{type(self).__name__}.cycle_model")

    def timing(self) -> Timing:
        """Latency, initiation interval and operations per beat, for reports."""
        raise NotImplementedError(f"{type(self).__name__}.timing")

    def features(self, family: str) -> Features | None:
        """Structural counts per sub-block for the analytic estimator; None: the block is not estimated."""
        return None

    @classmethod
    def test_configs(cls) -> dict[str, BlockConfig]:
        """The block's configuration table: named configurations that every verification level runs."""
        return {"default": cls()}

    def reference(self) -> Any:
        """The plain behavioural reference (a :class:`hwgen.reference.Reference`) that ``hwgen prove`` shows
        the generated design equal to, stepped once per input transfer."""
        raise NotImplementedError(f"{type(self).__name__}.reference")

    @classmethod
    def formal_configs(cls) -> dict[str, BlockConfig]:
        """Small configurations (2-4-bit types, 2-4 lanes, 2×2 arrays) that ``hwgen prove`` proves."""
        return {}

    def check_outputs(self, vectors: StreamVectors, outputs: dict) -> tuple[list[str], list[str]]:
        """Block-level checks of decoded outputs beyond beat-by-beat equality.

        Returns ``(summary lines, problems)``; the default checks nothing more.
        """
        return [], []

    # -- shared -----------------------------------------------------------
    def where(self, name: str) -> str:
        return f"{self.block_name}.{name}"

    def params(self) -> dict[str, Any]:
        """The parameters as plain JSON/TOML values (types spelled as text)."""

        def plain(value: Any) -> Any:
            if isinstance(value, NumType):
                return str(value)
            if isinstance(value, BlockConfig):
                return value.params()
            if isinstance(value, tuple):
                return [plain(v) for v in value]
            return value

        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def describe_params(cls) -> list[tuple[str, str, str, str]]:
        """``(name, default, allowed, doc)`` for each parameter."""
        rows = []
        for f in dataclasses.fields(cls):
            d = f.default
            if isinstance(d, BlockConfig):
                text = f"{d.block_name} table"
            elif isinstance(d, tuple):
                text = ",".join(
                    f"{v.block_name} table"
                    if isinstance(v, BlockConfig)
                    else str(list(v))
                    if isinstance(v, tuple)
                    else str(v)
                    for v in d
                )
            elif d is None and (f.name in cls.auto_defaults or "left out" in f.metadata.get("doc", "")):
                text = "auto"
            else:
                text = str(d)
            rows.append((f.name, text, f.metadata.get("allowed", ""), f.metadata.get("doc", "")))
        return rows

    @classmethod
    def from_params(cls, params: dict[str, Any], where: str | None = None) -> BlockConfig:
        """Build a config from plain values (e.g. a TOML ``[params]`` table).

        Number types may be given as text (``"Int(8)"``). Unknown keys and
        values of the wrong type raise :class:`ConfigError` naming
        ``where.key``.
        """
        prefix = where or cls.block_name
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in params.items():
            if key not in names:
                raise ConfigError(
                    f"{prefix}.{key}", f"unknown parameter of {cls.block_name}; known: {', '.join(sorted(names))}"
                )
            hint = hints[key]
            if hint is NumType:
                value = NumType.parse(value, f"{prefix}.{key}")
            elif typing.get_origin(hint) is tuple and isinstance(value, list):
                item = typing.get_args(hint)[0]
                if isinstance(item, type) and issubclass(item, BlockConfig):
                    value = tuple(
                        item.from_params(v, where=f"{prefix}.{key}[{i}]") if isinstance(v, dict) else v
                        for i, v in enumerate(value)
                    )
                elif typing.get_origin(item) is tuple:
                    value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
                else:
                    value = tuple(value)
            elif isinstance(hint, type) and issubclass(hint, BlockConfig):
                if not isinstance(value, dict):
                    raise ConfigError(
                        f"{prefix}.{key}", f"expected a table of {hint.block_name} parameters, not {value!r}"
                    )
                value = hint.from_params(value, where=f"{prefix}.{key}")
            kwargs[key] = value
        try:
            return cls(**kwargs)
        except ConfigError as e:
            # re-anchor the field name at the caller's location (file:params.key)
            if where and e.where.startswith(cls.block_name + "."):
                raise ConfigError(f"{where}.{e.where[len(cls.block_name) + 1 :]}", e.detail) from None
            raise

    def _check_field_types(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            expected = _required(hints[f.name])
            origin = typing.get_origin(expected)
            if expected is NumType and not isinstance(value, NumType):
                raise ConfigError(self.where(f.name), f"expected a number type such as Int(8), not {value!r}")
            if expected is int and (not isinstance(value, int) or isinstance(value, bool)):
                raise ConfigError(self.where(f.name), f"expected an integer, not {value!r}")
            if expected is bool and not isinstance(value, bool):
                raise ConfigError(self.where(f.name), f"expected true or false, not {value!r}")
            if expected is float and (not isinstance(value, (int, float)) or isinstance(value, bool)):
                raise ConfigError(self.where(f.name), f"expected a number, not {value!r}")
            if origin is typing.Literal and value not in typing.get_args(expected):
                allowed = ", ".join(repr(a) for a in typing.get_args(expected))
                raise ConfigError(self.where(f.name), f"{value!r} is not one of {allowed}")
            if expected is str and not isinstance(value, str):
                raise ConfigError(self.where(f.name), f"expected text, not {value!r}")
            if origin is tuple:
                item = typing.get_args(expected)[0]
                inner = typing.get_args(item)[0] if typing.get_origin(item) is tuple else None
                base = typing.get_origin(item) or item
                empty_ok = f.default == ()  # a list whose default is empty may stay empty
                if (
                    not isinstance(value, tuple)
                    or (not value and not empty_ok)
                    or not all(_item_ok(v, base, inner) for v in value)
                ):
                    what = f"lists of {inner.__name__}" if inner else base.__name__
                    kind = "a list" if empty_ok else "a non-empty list"
                    raise ConfigError(self.where(f.name), f"expected {kind} of {what}, not {_short(value)}")
            if isinstance(expected, type) and issubclass(expected, BlockConfig) and not isinstance(value, expected):
                raise ConfigError(self.where(f.name), f"expected a {expected.__name__}, not {value!r}")


#: id(config) -> (auto parameters, chosen ones): kept beside the config, not in it, so ``config.__dict__``
#: holds only its fields (users copy configs with ``Config(**{**cfg.__dict__, ...})``). The marks do not
#: travel through pickling; a config without marks has every parameter as given.
_MARKS: dict[int, tuple[frozenset[str], frozenset[str]]] = {}
_NO_MARKS: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())


def _set_marks(config: BlockConfig, auto: set[str] | frozenset[str], chosen: set[str] | frozenset[str]) -> None:
    if not auto and not chosen:
        _MARKS.pop(id(config), None)
        return
    if id(config) not in _MARKS:
        weakref.finalize(config, _MARKS.pop, id(config), None)
    _MARKS[id(config)] = (frozenset(auto), frozenset(chosen))


def _required(hint: Any) -> Any:
    """``X`` for an auto parameter's ``X | None`` (its None is filled in before the check), else ``hint``."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args and len(args) == 2:
        return next(a for a in args if a is not type(None))
    return hint


def _item_ok(v: Any, base: type, inner: type | None) -> bool:
    """One entry of a tuple field: an instance of ``base``, or (``inner`` given) a non-empty tuple of ``inner``."""
    if inner is None:
        return isinstance(v, base)
    return isinstance(v, tuple) and bool(v) and all(isinstance(x, inner) for x in v)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + " ..."


def check_range(where: str, value: int, lo: int, hi: int) -> None:
    """Raise unless ``lo <= value <= hi``."""
    if not lo <= value <= hi:
        raise ConfigError(where, f"{value} is out of range; allowed {lo}..{hi}")


def pipeline_cycle_model(
    in_port: str, out_port: str, beats: int, ends: Sequence[int], latency: int, arrivals: Arrivals | None
) -> CycleModel:
    """Cycle model of a pipeline that takes one beat per cycle and never stalls while its output is ready:
    beat ``j`` is taken at ``max(arrival_j, taken_{j-1} + 1)``; the result completed by beat ``e`` (for each
    ``e`` in ``ends``) is valid ``latency`` cycles after ``e`` was taken."""
    offered = (arrivals or {}).get(in_port)
    taken: list[int] = []
    for j in range(beats):
        t = j if not taken else taken[-1] + 1
        taken.append(max(t, offered[j]) if offered is not None else t)
    return {in_port: taken, out_port: [taken[e] + latency for e in ends]}
