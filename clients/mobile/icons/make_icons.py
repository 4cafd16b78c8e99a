"""Draw the app icons (PNG 192/512, maskable 512) and the SVG, from one shape list.

A hand-held radio (white body, antenna, speaker grille, red emergency button) on Siaga
blue. Run from anywhere: ``python clients/mobile/icons/make_icons.py``. Only numpy and the
standard library, so the icons can be remade on any machine with the server installed.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BLUE = (11, 61, 145)
WHITE = (255, 255, 255)
RED = (217, 48, 37)
# (kind, colour, x0, y0, x1, y1, radius) in units of the icon's width, 0..1.
SHAPES = [
    ("rect", WHITE, 0.355, 0.10, 0.425, 0.34, 0.035),  # antenna
    ("rect", WHITE, 0.31, 0.29, 0.69, 0.88, 0.07),  # body
    ("rect", BLUE, 0.37, 0.38, 0.63, 0.405, 0.0125),  # grille
    ("rect", BLUE, 0.37, 0.44, 0.63, 0.465, 0.0125),
    ("rect", BLUE, 0.37, 0.50, 0.63, 0.525, 0.0125),
    ("circle", RED, 0.5, 0.705, 0.095, 0.0, 0.0),  # emergency button: cx, cy, r
]


def _rounded(x: np.ndarray, y: np.ndarray, x0: float, y0: float, x1: float, y1: float,
             r: float) -> np.ndarray:
    cx = np.clip(x, x0 + r, x1 - r)
    cy = np.clip(y, y0 + r, y1 - r)
    return ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) & (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)


def render(size: int, *, maskable: bool, oversample: int = 4) -> np.ndarray:
    n = size * oversample
    y, x = (np.mgrid[0:n, 0:n] + 0.5) / n
    rgba = np.zeros((n, n, 4), np.float64)
    if maskable:  # full bleed; the artwork inside the 80 % safe zone
        rgba[..., :3] = BLUE
        rgba[..., 3] = 255
        x, y = (x - 0.1) / 0.8, (y - 0.1) / 0.8
    else:
        mask = _rounded(x, y, 0, 0, 1, 1, 0.2)
        rgba[mask, :3] = BLUE
        rgba[mask, 3] = 255
    for kind, colour, a, b, c, d, r in SHAPES:
        mask = (x - a) ** 2 + (y - b) ** 2 <= c * c if kind == "circle" else \
            _rounded(x, y, a, b, c, d, r)
        rgba[mask, :3] = colour
        rgba[mask, 3] = 255
    return rgba.reshape(size, oversample, size, oversample, 4).mean(axis=(1, 3))


def png(rgba: np.ndarray) -> bytes:
    h, w, _ = rgba.shape
    raw = b"".join(b"\x00" + row.tobytes() for row in np.round(rgba).astype(np.uint8))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def svg() -> str:
    def hexc(c: tuple[int, int, int]) -> str:
        return "#{:02x}{:02x}{:02x}".format(*c)

    parts = [f'<rect width="512" height="512" rx="102" fill="{hexc(BLUE)}"/>']
    for kind, colour, a, b, c, d, r in SHAPES:
        if kind == "circle":
            parts.append(f'<circle cx="{a * 512:g}" cy="{b * 512:g}" r="{c * 512:g}" '
                         f'fill="{hexc(colour)}"/>')
        else:
            parts.append(f'<rect x="{a * 512:g}" y="{b * 512:g}" width="{(c - a) * 512:g}" '
                         f'height="{(d - b) * 512:g}" rx="{r * 512:g}" fill="{hexc(colour)}"/>')
    return ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512">'
            + "".join(parts) + "</svg>\n")


def main() -> None:
    (HERE / "icon-192.png").write_bytes(png(render(192, maskable=False)))
    (HERE / "icon-512.png").write_bytes(png(render(512, maskable=False)))
    (HERE / "icon-maskable-512.png").write_bytes(png(render(512, maskable=True)))
    (HERE / "icon.svg").write_text(svg())


if __name__ == "__main__":
    main()
