"""Generates the conformance cases of `robotoff::imaging::phash` (the image fingerprint).

Writes test images as PNG (lossless, so the Rust `image` crate and Pillow decode the same
pixels) into tests/conformance/phash/, and tests/conformance/phash/cases.json with, per
file, what Python's Robotoff computes from it: `imagehash.phash(Image.open(file))` as
imagehash's hex string, and the fingerprint Robotoff stores (the same 64 bits as a signed
BIGINT, computed as `generate_image_fingerprint` does it, with a numpy int64 dot product).

Generated with Python 3.11.7, ImageHash 4.3.2, Pillow 13.0.0, numpy 2.4.6, scipy 1.17.1
(the versions are also written into cases.json). Not part of the test path; to run it:

    python3 -m venv /tmp/phash-venv
    /tmp/phash-venv/bin/pip install Pillow==13.0.0 numpy==2.4.6 scipy==1.17.1 ImageHash==4.3.2
    /tmp/phash-venv/bin/python scripts/phash_cases.py

The cases vary the size (1x1 to 1500x900, both resize orders of Pillow, no resize at
32x32, upscaling), the PNG colour type (RGB, RGBA, L, LA, palette with and without
transparency, 1/2/4-bit grey, 16-bit grey, grey+alpha, RGB and RGBA, colour-keyed RGB
and grey) and the content (gradients, seeded noise, photo-like scenes, barcodes, flat
images, and images whose DCT ties with the median in exact arithmetic, where only a
bit-exact DCT gives the same bits). `min_gap` in cases.json is the smallest distance
between a DCT coefficient and the median: near 0 means a tie decided by rounding.
"""

import json
import os
import struct
import sys
import warnings
import zlib
from importlib.metadata import version

import imagehash
import numpy as np
import PIL
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "conformance", "phash")
RNG = np.random.default_rng(20240611)


def png_raw(path, width, height, bit_depth, color_type, rows, trns=None):
    """Writes a PNG from raw samples (for bit depths Pillow does not save: 16-bit colour,
    grey+alpha 16-bit, 2-bit grey). `rows` are big-endian packed scanlines (bytes)."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    if trns is not None:
        data += chunk(b"tRNS", trns)
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def u16_rows(arr):
    """Big-endian 16-bit scanlines of an (h, w) or (h, w, c) uint16 array."""
    return [row.astype(">u2").tobytes() for row in arr]


def packed_rows(arr, bits):
    """MSB-first packed scanlines of an (h, w) array of `bits`-bit samples."""
    per_byte = 8 // bits
    rows = []
    for row in arr:
        padded = np.concatenate([row, np.zeros((-len(row)) % per_byte, row.dtype)])
        groups = padded.reshape(-1, per_byte).astype(np.uint16)
        shifts = np.arange(per_byte - 1, -1, -1) * bits
        rows.append((groups << shifts).sum(axis=1).astype(np.uint8).tobytes())
    return rows


def gradient(w, h, angle=0.6):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    v = x * np.cos(angle) / max(w, 1) + y * np.sin(angle) / max(h, 1)
    v = (v - v.min()) / (np.ptp(v) or 1.0)
    return v


def photo(w, h, seed, noise=0.0):
    """A smooth scene: a sky gradient, soft blobs, a few hard-edged shapes, optional grain."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    xs, ys = x / max(w - 1, 1), y / max(h - 1, 1)
    img = np.zeros((h, w, 3))
    img += np.stack([0.3 + 0.4 * ys, 0.5 + 0.2 * xs, 0.8 - 0.3 * ys], axis=-1)
    for _ in range(6):
        cx, cy, r = rng.random(), rng.random(), 0.05 + 0.25 * rng.random()
        col = rng.random(3) - 0.5
        blob = np.exp(-(((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * r * r)))
        img += blob[..., None] * col
    for _ in range(4):
        x0, y0 = rng.random(2) * 0.8
        x1, y1 = x0 + 0.05 + rng.random() * 0.3, y0 + 0.05 + rng.random() * 0.3
        mask = (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)
        img[mask] = rng.random(3)
    img += 0.05 * np.sin(xs * 40 + ys * 13)[..., None]
    if noise:
        img += rng.normal(0, noise, img.shape)
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)


def barcode(w, h, seed):
    rng = np.random.default_rng(seed)
    widths = rng.integers(1, 5, size=w)
    bars = np.repeat(np.arange(len(widths)) % 2, widths)[:w]
    img = np.full((h, w), 250, np.uint8)
    top, bottom = h // 6, h - h // 4
    img[top:bottom, :] = np.where(bars[None, :] == 1, 20, 250)
    return img


def noise(shape, lo=0, hi=256):
    return RNG.integers(lo, hi, size=shape, dtype=np.int64).astype(np.uint8)


def symmetric(n, levels):
    """An n x n image equal to its transpose: the DCT is symmetric too, so coefficient
    (i, j) ties with (j, i) in exact arithmetic and only the rounding orders them."""
    a = RNG.choice(np.array(levels, dtype=np.uint8), size=(n, n))
    return np.triu(a) + np.triu(a, 1).T


def cases():
    """(file name, how to write it) for every case."""
    out = []

    def pil(name, arr, mode, **save):
        def write(path):
            Image.fromarray(arr, mode).save(path, **save)

        out.append((name, write))

    def pil_img(name, make, **save):
        out.append((name, lambda path: make().save(path, **save)))

    def raw(name, *args, **kwargs):
        out.append((name, lambda path: png_raw(path, *args, **kwargs)))

    # Sizes, RGB noise and gradients.
    pil("rgb_1x1.png", np.array([[[200, 30, 90]]], np.uint8), "RGB")
    pil("l_1x1.png", np.array([[77]], np.uint8), "L")
    pil("rgb_7x3_noise.png", noise((3, 7, 3)), "RGB")
    pil("rgb_3x2_noise.png", noise((2, 3, 3)), "RGB")
    pil("l_32x32_noise.png", noise((32, 32)), "L")
    pil("rgb_32x32_gradient.png", (np.stack([gradient(32, 32, a) for a in (0.2, 0.9, 1.4)], -1) * 255).astype(np.uint8), "RGB")
    pil("rgb_33x31_noise.png", noise((31, 33, 3)), "RGB")
    pil("l_31x33_gradient.png", (gradient(31, 33, 1.1) * 255).astype(np.uint8), "L")
    pil("l_16x16_noise.png", noise((16, 16)), "L")
    pil("rgb_64x64_noise.png", noise((64, 64, 3)), "RGB")
    pil("l_32x100_noise.png", noise((100, 32)), "L")  # vertical pass only
    pil("l_100x32_noise.png", noise((32, 100)), "L")  # horizontal pass only
    pil("l_1000x2_noise.png", noise((2, 1000)), "L")
    pil("l_2x500_noise.png", noise((500, 2)), "L")
    pil("rgb_100x1000_photo.png", photo(100, 1000, 1), "RGB")  # vertical pass first
    pil("rgb_200x700_photo.png", photo(200, 700, 2, noise=0.02), "RGB")
    pil("rgb_640x480_photo.png", photo(640, 480, 3), "RGB", optimize=True)
    pil("rgb_1500x900_photo.png", photo(1500, 900, 4), "RGB", optimize=True)
    pil("l_900x1500_photo.png", np.asarray(Image.fromarray(photo(900, 1500, 5)).convert("L")), "L", optimize=True)
    pil("rgb_301x299_grain.png", photo(301, 299, 6, noise=0.08), "RGB")
    pil("l_400x300_barcode.png", barcode(400, 300, 7), "L")
    pil("rgb_250x120_diagonal.png", (np.stack([gradient(250, 120, 0.3)] * 3, -1) * 255).astype(np.uint8), "RGB")

    # Alpha is ignored: RGBA and LA take the grey of their colour channels.
    rgba = np.dstack([photo(640, 480, 8), (gradient(640, 480, 2.0) * 255).astype(np.uint8)])
    pil("rgba_640x480_photo.png", rgba, "RGBA", optimize=True)
    pil("rgba_50x70_noise.png", noise((70, 50, 4)), "RGBA")
    la = np.dstack([noise((48, 64)), noise((48, 64))])
    pil("la_64x48_noise.png", la, "LA")
    pil("la_120x90_photo.png", np.dstack([np.asarray(Image.fromarray(photo(120, 90, 9)).convert("L")), noise((90, 120))]), "LA")

    # Palettes (the image crate expands them to RGB or RGBA).
    pil_img("p_200x150_adaptive.png", lambda: Image.fromarray(photo(200, 150, 10)).convert("P", palette=Image.Palette.ADAPTIVE, colors=200))
    pil_img("p_90x60_4colours.png", lambda: Image.fromarray(photo(90, 60, 11)).convert("P", palette=Image.Palette.ADAPTIVE, colors=4))

    def p_trns():
        im = Image.fromarray(photo(80, 100, 12)).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
        im.info["transparency"] = bytes(range(0, 256, 4))
        return im

    pil_img("p_80x100_transparency.png", p_trns, transparency=bytes(range(0, 256, 4)))
    pil_img("rgb_60x40_colour_key.png", lambda: Image.fromarray(photo(60, 40, 13)), transparency=(0, 0, 0))
    pil_img("l_60x40_colour_key.png", lambda: Image.fromarray(noise((40, 60)), "L"), transparency=128)

    # Low bit depths (scaled to 0..255 by both decoders).
    pil_img("bit1_50x40_checker.png", lambda: Image.fromarray(((np.indices((40, 50)).sum(0) // 3) % 2 * 255).astype(np.uint8), "L").convert("1", dither=Image.Dither.NONE))
    pil_img("bit1_70x70_dithered.png", lambda: Image.fromarray((gradient(70, 70, 0.8) * 255).astype(np.uint8), "L").convert("1"))
    pil_img("l4_45x45_noise.png", lambda: Image.fromarray(noise((45, 45), 0, 16) * 17, "L"), bits=4)
    raw("l2_37x29_noise.png", 37, 29, 2, 0, packed_rows(noise((29, 37), 0, 4), 2))

    # 16-bit: Pillow opens grey as I;16 (its conversion to L clips at 255), and keeps the
    # high byte of RGB, RGBA and grey+alpha samples.
    g16 = (gradient(80, 60, 0.5) * 600).astype(np.uint16)
    raw("l16_80x60_low_values.png", 80, 60, 16, 0, u16_rows(g16))
    raw("l16_70x50_full_range.png", 70, 50, 16, 0, u16_rows((gradient(70, 50, 1.0) * 65535).astype(np.uint16)))
    raw("l16_40x40_small.png", 40, 40, 16, 0, u16_rows(RNG.integers(0, 256, (40, 40)).astype(np.uint16)))
    raw("rgb16_90x70_photo.png", 90, 70, 16, 2, u16_rows(photo(90, 70, 14).astype(np.uint16) * 257 + RNG.integers(0, 257, (70, 90, 3)).astype(np.uint16)))
    raw("rgba16_50x50_noise.png", 50, 50, 16, 6, u16_rows(RNG.integers(0, 65536, (50, 50, 4)).astype(np.uint16)))
    raw("la16_60x45_noise.png", 60, 45, 16, 4, u16_rows(RNG.integers(0, 65536, (45, 60, 2)).astype(np.uint16)))
    raw("rgb16_33x17_colour_key.png", 33, 17, 16, 2, u16_rows(RNG.integers(0, 65536, (17, 33, 3)).astype(np.uint16)), trns=struct.pack(">HHH", 1, 2, 3))

    # Flat images: every AC coefficient is 0 in exact arithmetic, the median is 0, and the
    # bits are whatever sign the DCT's rounding leaves.
    pil("l_100x100_flat_white.png", np.full((100, 100), 255, np.uint8), "L")
    pil("rgb_640x480_flat_black.png", np.zeros((480, 640, 3), np.uint8), "RGB", optimize=True)
    pil("rgb_33x31_flat_grey.png", np.full((31, 33, 3), 137, np.uint8), "RGB")
    pil("l_32x32_flat.png", np.full((32, 32), 201, np.uint8), "L")
    pil("l_7x5_flat.png", np.full((5, 7), 13, np.uint8), "L")

    # Ties at the median: separable and symmetric patterns.
    pil("l_32x32_horizontal_ramp.png", np.tile(np.arange(32, dtype=np.uint8) * 8, (32, 1)), "L")
    pil("l_64x48_vertical_ramp.png", np.tile((np.arange(48) * 5).astype(np.uint8)[:, None], (1, 64)), "L")
    pil("l_32x32_checker4.png", ((np.indices((32, 32)) // 4).sum(0) % 2 * 255).astype(np.uint8), "L")
    pil("l_96x96_stripes.png", np.tile(((np.arange(96) // 6) % 2 * 200 + 30).astype(np.uint8), (96, 1)), "L")
    y, x = np.mgrid[0:32, 0:32]
    pil("l_32x32_disc.png", np.where((x - 15.5) ** 2 + (y - 15.5) ** 2 < 100, 230, 20).astype(np.uint8), "L")
    pil("l_32x32_cross.png", np.where((abs(x - 15.5) < 3) | (abs(y - 15.5) < 3), 255, 0).astype(np.uint8), "L")
    for i in range(8):
        levels = [[0, 255], [0, 128, 255], list(range(256)), [10, 20, 30, 40]][i % 4]
        pil(f"l_32x32_symmetric_{i}.png", symmetric(32, levels), "L")
    pil("rgb_32x32_symmetric.png", np.dstack([symmetric(32, [0, 255])] * 3), "RGB")
    # Symmetric images whose tied pair straddles the median, an ulp or so apart: the
    # bits then depend on the exact order of the DCT's floating-point operations.
    for i, arr in enumerate(rounding_ties(10)):
        pil(f"l_32x32_rounding_tie_{i}.png", arr, "L")
    return out


def rounding_ties(count):
    """The first `count` seeded symmetric images with a coefficient within 1e-6 (but not
    exactly 0) of the median."""
    found = []
    while len(found) < count:
        levels = RNG.choice([2, 3, 4, 8, 256])
        arr = symmetric(32, np.linspace(0, 255, levels).astype(np.uint8).tolist())
        gap = min_gap(Image.fromarray(arr, "L"))
        if 0 < gap < 1e-6:
            found.append(arr)
    return found


def fingerprint_as_robotoff(image):
    """robotoff.images.generate_image_fingerprint: an int64 dot product, so the top bit
    wraps to a negative number."""
    array = imagehash.phash(image).hash
    int_array = array.flatten().astype(int)
    return int(int_array.dot(2 ** np.arange(int_array.size)[::-1]))


def min_gap(image):
    """Smallest |coefficient - median| among the 64 low-frequency DCT coefficients."""
    import scipy.fftpack

    pixels = np.asarray(image.convert("L").resize((32, 32), Image.Resampling.LANCZOS))
    low = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)[:8, :8]
    return float(np.min(np.abs(low - np.median(low))))


def main():
    # imagehash converts palette images with transparency to L, which Pillow warns about.
    warnings.filterwarnings("ignore", "Palette images with Transparency", UserWarning)
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        if name.endswith(".png"):
            os.remove(os.path.join(OUT, name))
    records = []
    for name, write in cases():
        path = os.path.join(OUT, name)
        write(path)
        with Image.open(path) as image:
            image.load()
            hex_hash = str(imagehash.phash(image))
            stored = fingerprint_as_robotoff(image)
            assert stored == int.from_bytes(bytes.fromhex(hex_hash), "big", signed=True)
            records.append(
                {
                    "file": name,
                    "width": image.width,
                    "height": image.height,
                    "pillow_mode": image.mode,
                    "phash": hex_hash,
                    "fingerprint": stored,
                    "min_gap": min_gap(image),
                }
            )
    versions = {
        "python": sys.version.split()[0],
        "ImageHash": version("ImageHash"),
        "Pillow": PIL.__version__,
        "numpy": np.__version__,
        "scipy": version("scipy"),
    }
    doc = {
        "generator": "scripts/phash_cases.py",
        "what": "imagehash.phash(Image.open(file)) (hash_size 8, highfreq_factor 4) as its hex "
        "string, and the signed 64-bit fingerprint robotoff.images.generate_image_fingerprint stores",
        "versions": versions,
        "cases": records,
    }
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    ties = sum(1 for r in records if r["min_gap"] < 1e-9)
    print(f"{len(records)} cases, {ties} with a coefficient within 1e-9 of the median, {total} bytes")


if __name__ == "__main__":
    main()
