"""QR codes for the workshop join link: the PNG really carries the URL.

No QR decoder library is installed, so this file has a small one for what the
app produces (versions 1-4, byte mode): PNG pixels -> module grid -> unmasked
bit stream -> text. The mask and error level are found by trial: only the right
combination yields a byte-mode header, a terminator and the standard 0xEC/0x11 padding.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest
import segno
from PIL import Image

from assessment.workshop.qr import QUIET_ZONE, qr_png, qr_svg

# (blocks, data codewords per block) for versions 1-4; all blocks equal in size there.
DATA_BLOCKS = {
    1: {"L": (1, 19), "M": (1, 16), "Q": (1, 13), "H": (1, 9)},
    2: {"L": (1, 34), "M": (1, 28), "Q": (1, 22), "H": (1, 16)},
    3: {"L": (1, 55), "M": (1, 44), "Q": (2, 17), "H": (2, 13)},
    4: {"L": (1, 80), "M": (2, 32), "Q": (2, 24), "H": (4, 9)},
}
MASKS = [
    lambda i, j: (i + j) % 2 == 0,
    lambda i, j: i % 2 == 0,
    lambda i, j: j % 3 == 0,
    lambda i, j: (i + j) % 3 == 0,
    lambda i, j: (i // 2 + j // 3) % 2 == 0,
    lambda i, j: (i * j) % 2 + (i * j) % 3 == 0,
    lambda i, j: ((i * j) % 2 + (i * j) % 3) % 2 == 0,
    lambda i, j: ((i + j) % 2 + (i * j) % 3) % 2 == 0,
]


def png_to_modules(png: bytes) -> list[list[int]]:
    """Sample the centre of every module; module size from the top-left finder (7 modules wide)."""
    image = Image.open(io.BytesIO(png)).convert("L")
    width, height = image.size
    assert width == height, "a QR image is square"
    pixels = image.load()
    dark = lambda x, y: pixels[x, y] < 128  # noqa: E731
    first = next((x, y) for y in range(height) for x in range(width) if dark(x, y))
    run = 0
    while dark(first[0] + run, first[1]):
        run += 1
    scale = run // 7
    assert scale * 7 == run, "the finder pattern is 7 whole modules wide"
    size = width // scale - 2 * (first[0] // scale)
    offset = first[0]
    return [[int(dark(offset + c * scale + scale // 2, offset + r * scale + scale // 2)) for c in range(size)]
            for r in range(size)]


def function_pattern(size: int, version: int) -> set[tuple[int, int]]:
    reserved = set()
    for r in range(size):
        for c in range(size):
            if (r <= 8 and c <= 8) or (r <= 8 and c >= size - 8) or (r >= size - 8 and c <= 8) or r == 6 or c == 6:
                reserved.add((r, c))
    if version >= 2:  # one alignment pattern, centred at (size-7, size-7)
        reserved |= {(r, c) for r in range(size - 9, size - 4) for c in range(size - 9, size - 4)}
    return reserved


def data_bits(modules: list[list[int]], version: int, mask) -> list[int]:
    size = len(modules)
    reserved = function_pattern(size, version)
    bits, upward, col = [], True, size - 1
    while col > 0:
        if col == 6:  # the vertical timing column is skipped
            col -= 1
        rows = range(size - 1, -1, -1) if upward else range(size)
        for r in rows:
            for c in (col, col - 1):
                if (r, c) not in reserved:
                    bits.append(modules[r][c] ^ int(mask(r, c)))
        upward = not upward
        col -= 2
    return bits


def decode_byte_mode(codewords: list[int]) -> str | None:
    bits = [(byte >> (7 - k)) & 1 for byte in codewords for k in range(8)]
    read = lambda start, n: int("".join(map(str, bits[start:start + n])), 2)  # noqa: E731
    if read(0, 4) != 0b0100:
        return None
    length = read(4, 8)
    end = 12 + 8 * length
    if end + 4 > len(bits) or read(end, 4) != 0:
        return None
    payload = bytes(read(12 + 8 * i, 8) for i in range(length))
    padding = codewords[(end + 4 + 7) // 8:]
    while padding and padding[0] == 0:  # segno adds a whole zero byte when the terminator ends on a byte boundary
        padding = padding[1:]
    if any(byte != (0xEC, 0x11)[i % 2] for i, byte in enumerate(padding)):
        return None
    return payload.decode("utf-8")


def decode_png(png: bytes) -> str:
    modules = png_to_modules(png)
    version = (len(modules) - 17) // 4
    assert version in DATA_BLOCKS, f"test decoder handles versions 1-4, got {version}"
    found = set()
    for mask in MASKS:
        stream = data_bits(modules, version, mask)
        codewords = [int("".join(map(str, stream[i:i + 8])), 2) for i in range(0, len(stream) - 7, 8)]
        for blocks, per_block in DATA_BLOCKS[version].values():
            # Data codewords are interleaved round-robin across the blocks.
            data = [codewords[k * blocks + b] for b in range(blocks) for k in range(per_block)]
            text = decode_byte_mode(data)
            if text is not None:
                found.add(text)
    assert len(found) == 1, f"expected exactly one consistent decoding, got {found}"
    return found.pop()


JOIN_URLS = [
    "http://localhost:8501/phone?code=K7Q2MX",
    "https://samverkan.burlov.se/phone?code=ABC234",
    "https://x.se/phone?code=Z",
]


@pytest.mark.parametrize("url", JOIN_URLS)
def test_png_decodes_to_the_url(url):
    assert decode_png(qr_png(url)) == url


@pytest.mark.parametrize("scale", [3, 8, 20])
def test_png_modules_match_segno_matrix_at_any_scale(scale):
    url = JOIN_URLS[0]
    modules = png_to_modules(qr_png(url, scale=scale))
    assert modules == [list(row) for row in segno.make(url, error="m", micro=False).matrix]


def test_different_codes_give_different_images():
    assert decode_png(qr_png(JOIN_URLS[0])) != decode_png(qr_png(JOIN_URLS[0].replace("K7Q2MX", "K7Q2MY")))


def test_png_keeps_a_quiet_zone():
    image = Image.open(io.BytesIO(qr_png(JOIN_URLS[0], scale=5))).convert("L")
    margin = QUIET_ZONE * 5
    strip = [image.getpixel((x, y)) for y in range(margin) for x in range(image.width)]
    assert min(strip) > 200, "the quiet zone around the code must be white"


def test_svg_is_well_formed_and_sized():
    url = JOIN_URLS[1]
    root = ET.fromstring(qr_svg(url, scale=10))
    modules = len(segno.make(url, error="m", micro=False).matrix)
    assert root.tag.endswith("svg")
    assert float(root.get("width")) == (modules + 2 * QUIET_ZONE) * 10
    assert url in ET.tostring(root, encoding="unicode")  # the title names the link


@pytest.mark.parametrize("bad", ["", "   "])
def test_empty_url_is_refused(bad):
    with pytest.raises(ValueError, match="non-empty URL"):
        qr_png(bad)
