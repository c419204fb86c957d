"""QR codes for the workshop join link, as PNG or SVG bytes (segno, no streamlit).

Black on white with the standard four-module quiet zone: projectors in a cinema
wash out colours and thin margins, and phone cameras need the contrast.
"""

from __future__ import annotations

import io

import segno

# 'M' recovers ~15 % damage; segno raises it further when the data fits anyway.
ERROR_LEVEL = "m"
QUIET_ZONE = 4


def make_qr(url: str) -> segno.QRCode:
    if not url or not url.strip():
        raise ValueError("a QR code needs a non-empty URL")
    return segno.make(url.strip(), error=ERROR_LEVEL, micro=False)


def qr_png(url: str, scale: int = 12) -> bytes:
    """PNG bytes; ``scale`` pixels per module (12 gives ~400 px for a join URL)."""
    buffer = io.BytesIO()
    make_qr(url).save(buffer, kind="png", scale=scale, border=QUIET_ZONE, dark="#000000", light="#ffffff")
    return buffer.getvalue()


def qr_svg(url: str, scale: int = 10) -> bytes:
    """SVG bytes (scales without blur on a big screen or in print)."""
    buffer = io.BytesIO()
    make_qr(url).save(buffer, kind="svg", scale=scale, border=QUIET_ZONE, dark="#000000", light="#ffffff",
                      xmldecl=False, svgns=True, title=url.strip())
    return buffer.getvalue()
