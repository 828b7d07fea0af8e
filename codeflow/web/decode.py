"""Payload bytes -> text, trusting declared charsets only as far as the bytes agree.

Crawled pages often lie about their charset (``iso-8859-1`` headers over UTF-8 bodies, unknown names, mixed
bytes). The order here: a BOM; bytes that are valid UTF-8 with non-ASCII content (practically never an
accident, and legacy single-byte charsets would decode them into mojibake without an error); the HTTP
charset; the ``<meta charset>``; charset detection; and last UTF-8 with replacement characters, accepted
only while they stay under ``max_replacement_ratio``. Anything worse is a ``decode_error`` reject.
"""

from __future__ import annotations

import codecs
import re

META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.I)
BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


class DecodeFailure(ValueError):
    """The payload is not text in any charset we can trust."""


def _try(payload: bytes, charset: str | None) -> str | None:
    if not charset:
        return None
    try:
        return payload.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_payload(payload: bytes, declared: str | None, max_replacement_ratio: float = 0.01) -> tuple[str, str, str]:
    """Return ``(text, charset, how)``; ``how`` says which evidence won (``bom``, ``utf-8``, ``http``, ``meta``,
    ``detected``, ``utf-8-replace``). Raises ``DecodeFailure`` when nothing trustworthy decodes it."""
    for bom, name in BOMS:
        if payload.startswith(bom):
            text = _try(payload, name)
            if text is not None:
                return text, name, "bom"
    if not payload.isascii():
        text = _try(payload, "utf-8")
        if text is not None:
            return text, "utf-8", "utf-8"
    text = _try(payload, declared)
    if text is not None:
        return text, codecs.lookup(declared).name, "http"
    m = META_CHARSET.search(payload[:4096])
    meta = m.group(1).decode("ascii", "ignore").lower() if m else None
    text = _try(payload, meta)
    if text is not None:
        return text, codecs.lookup(meta).name, "meta"
    if payload.isascii():
        return payload.decode("ascii"), "ascii", "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(payload[:65536]).best()
    if best is not None and best.encoding and not best.encoding.startswith("utf_16"):
        text = _try(payload, best.encoding)
        if text is not None and _plausible(text):
            return text, best.encoding, "detected"
    text = payload.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    if bad <= max_replacement_ratio * max(1, len(text)):
        return text, "utf-8", "utf-8-replace"
    raise DecodeFailure(f"{bad} undecodable sequences in {len(payload)} bytes (declared {declared or meta or 'none'})")


def _plausible(text: str) -> bool:
    """Detection on binary junk still names a charset; accept only text that is mostly printable."""
    sample = text[:20000]
    printable = sum(ch.isprintable() or ch in "\n\r\t" for ch in sample)
    return printable >= 0.97 * max(1, len(sample))
