"""Sliding windows of a 2-D convolution over an image stored one pixel per row (channels last).

An image ``[H·W, C]`` holds pixel ``(y, x)`` in row ``y·W + x``. A
:class:`Window` of ``kh × kw`` pixels moves with strides ``(sh, sw)`` over
the image padded by ``(top, left, bottom, right)`` pixels; output pixel
``(oy, ox)`` (row ``oy·Wo + ox``) sees the input pixels
``(oy·sh − top + ky, ox·sw − left + kx)``. Its *im2col row* lists, for
``ky``, then ``kx``, then channel ``c`` (that order, the fastest last), the
input value there, or the pad value outside the image: ``kh·kw·C`` values,
the reduction of the convolution as a matrix product with weights
``[kh, kw, C, C_out]`` flattened to ``[kh·kw·C, C_out]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError


@dataclass(frozen=True)
class Window:
    """The geometry of one convolution's windows (see the module docstring)."""

    height: int
    width: int
    channels: int
    kh: int
    kw: int
    sh: int = 1
    sw: int = 1
    top: int = 0
    left: int = 0
    bottom: int = 0
    right: int = 0

    @property
    def out_height(self) -> int:
        return (self.height + self.top + self.bottom - self.kh) // self.sh + 1

    @property
    def out_width(self) -> int:
        return (self.width + self.left + self.right - self.kw) // self.sw + 1

    @property
    def length(self) -> int:
        """Values per im2col row (``kh·kw·C``)."""
        return self.kh * self.kw * self.channels

    def check(self, where: str) -> None:
        """A :class:`ConfigError` naming ``where`` when a window never overlaps the image or the output is
        empty."""
        if self.kh > self.height + self.top + self.bottom or self.kw > self.width + self.left + self.right:
            raise ConfigError(
                where,
                f"a {self.kh}×{self.kw} kernel does not fit the {self.height}×{self.width} image padded by "
                f"{(self.top, self.left, self.bottom, self.right)}",
            )
        if max(self.top, self.bottom) >= self.kh or max(self.left, self.right) >= self.kw:
            raise ConfigError(
                where, f"pads {(self.top, self.left, self.bottom, self.right)} must be smaller than the kernel"
            )

    def im2col(self, image: np.ndarray, pad_value: int) -> np.ndarray:
        """The im2col rows ``[Ho·Wo, kh·kw·C]`` of ``image`` ``[H·W, C]``."""
        img = np.asarray(image).reshape(self.height, self.width, self.channels)
        padded = np.full(
            (self.height + self.top + self.bottom, self.width + self.left + self.right, self.channels),
            pad_value,
            dtype=img.dtype,
        )
        padded[self.top : self.top + self.height, self.left : self.left + self.width] = img
        rows = []
        for oy in range(self.out_height):
            for ox in range(self.out_width):
                y, x = oy * self.sh, ox * self.sw
                rows.append(padded[y : y + self.kh, x : x + self.kw].reshape(-1))
        return np.stack(rows)
