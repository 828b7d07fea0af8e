"""The funnel for one WARC file: every page record ends as a kept document or one reject with a reason.

Order of the steps (and of the funnel in the report): read -> HTTP status -> content type -> size -> decode ->
parse -> code blocks -> text extraction -> cleaning -> language -> quality filters. Code blocks are taken out
right after parsing and are kept whatever later happens to the page's prose: a forum page in Portuguese or
a docs page too short for Gopher can still carry good code, and text filters never judge code.

Accounting invariants (tested): records in = kept documents + document rejects; code block candidates =
kept code blocks + code block rejects. Non-page WARC records (request, metadata, warcinfo) are counted in
stats, not as rows.
"""

from __future__ import annotations

import json
import posixpath
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa

from codeflow.records import CODE_BLOCK_SCHEMA, DOCUMENT_SCHEMA, REJECT_SCHEMA, stable_id
from codeflow.timeouts import StepTimeout, time_limit
from codeflow.web import html as H
from codeflow.web import isolate, lid, quality, rules
from codeflow.web.config import CleanCCConfig
from codeflow.web.decode import DecodeFailure, decode_payload
from codeflow.web.warc import ReadProblem, Skipped, WarcRecord, iter_warc

STAGE = "clean_cc"
# Funnel order of document reject reasons (the report draws the funnel in this order).
REASONS = ("not_an_archive", "empty_file", "warc_read_error", "truncated_record", "empty_record",
           "http_status", "not_html", "too_large", "decode_error",
           "parse_error", "extraction_timeout", "extraction_crash",
           "empty_extraction", "language", "gopher_repetition", "gopher_quality", "c4_quality",
           "fineweb_quality")
CODE_REASONS = ("code_too_short", "code_too_long", "code_duplicate_in_page")
TEXT_MIMES = ("text/plain",)  # WET conversions and plain-text resources: no markup, no code blocks


@dataclass
class UnitResult:
    """Everything one WARC file produces: the two outputs with their rejects, and the counters."""

    docs: list[dict] = field(default_factory=list)
    doc_rejects: list[dict] = field(default_factory=list)
    blocks: list[dict] = field(default_factory=list)
    block_rejects: list[dict] = field(default_factory=list)
    stats: Counter = field(default_factory=Counter)

    def tables(self) -> tuple[pa.Table, pa.Table, pa.Table, pa.Table]:
        return (pa.Table.from_pylist(self.docs, schema=DOCUMENT_SCHEMA),
                pa.Table.from_pylist(self.doc_rejects, schema=REJECT_SCHEMA),
                pa.Table.from_pylist(self.blocks, schema=CODE_BLOCK_SCHEMA),
                pa.Table.from_pylist(self.block_rejects, schema=REJECT_SCHEMA))


def doc_id(record_id: str, url: str | None) -> str:
    return stable_id(record_id, url, prefix="cc-")


class _Reject(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason)
        self.reason, self.detail = reason, detail


def _code_blocks(blocks: list[H.CodeBlock], rec: WarcRecord, did: str, warc_file: str, cfg: CleanCCConfig,
                 out: UnitResult) -> dict[int, H.CodeBlock]:
    """Keep or reject each candidate; returns index -> kept block (for putting code back into the text)."""
    kept: dict[int, H.CodeBlock] = {}
    seen: set[str] = set()
    for i, b in enumerate(blocks):
        bid = stable_id(did, str(i), b.content, prefix="cb-")
        n_lines = b.content.count("\n") + (0 if b.content.endswith("\n") else 1)
        size = len(b.content.strip())
        reason = ("code_too_short" if size < cfg.code_min_chars or n_lines < cfg.code_min_lines
                  else "code_too_long" if size > cfg.code_max_chars
                  else "code_duplicate_in_page" if b.content in seen else None)
        out.stats["code_blocks_in"] += 1
        if reason:
            out.block_rejects.append({"id": bid, "stage": STAGE, "reason": reason,
                                      "detail": f"{size} chars, {n_lines} lines", "source": rec.record_id})
            continue
        seen.add(b.content)
        kept[i] = b
        out.stats[f"code_lang:{b.language or 'unknown'}"] += 1
        out.stats[f"code_lang_source:{b.language_source}"] += 1
        out.blocks.append({"id": bid, "doc_id": did, "url": rec.url, "warc_record_id": rec.record_id,
                           "warc_file": warc_file, "index_in_page": i, "language": b.language,
                           "language_source": b.language_source, "classes": b.classes, "tag": b.tag,
                           "content": b.content, "n_lines": n_lines, "size": len(b.content.encode("utf-8"))})
    return kept


def assemble(text: str, kept: dict[int, H.CodeBlock], fence: bool) -> tuple[str, str]:
    """(document text with code put back as fences, prose alone) from cleaned text with sentinels."""
    doc_parts: list[str] = []
    prose_parts: list[str] = []
    for seg in H.split_sentinels(text):
        if isinstance(seg, int):
            b = kept.get(seg)
            if b is not None and fence:
                doc_parts.append(f"\n```{b.language or ''}\n{b.content.rstrip(chr(10))}\n```\n")
        else:
            doc_parts.append(seg)
            prose_parts.append(seg)
    doc = rules.RULES[-1].apply("".join(doc_parts)).strip("\n")  # blank_line_runs around removed sentinels
    prose = rules.RULES[-1].apply("".join(prose_parts)).strip("\n")
    return doc, prose


def clean_record(rec: WarcRecord, cfg: CleanCCConfig, warc_file: str, out: UnitResult) -> None:
    """Run one page record through the funnel, appending to ``out``; never raises for bad data."""
    did = doc_id(rec.record_id, rec.url)
    meta: dict = {"warc_file": warc_file, "warc_offset": rec.offset, "warc_date": rec.date,
                  "http_status": rec.http_status, "content_type": rec.content_type}
    try:
        text, prose, lang, score = _funnel(rec, cfg, did, warc_file, meta, out)
    except _Reject as r:
        if "language" in meta:  # rejected at or after language ID: count it per language too
            out.stats[f"lang_rejected:{meta['language']}:{r.reason}"] += 1
        out.doc_rejects.append({"id": did, "stage": STAGE, "reason": r.reason, "detail": r.detail[:500],
                                "source": rec.record_id})
        return
    del meta["language"]  # the document has its own language column
    meta.update(language_score=score, prose_chars=len(prose))
    out.stats[f"lang:{lang}"] += 1
    out.docs.append({"id": did, "text": text, "source": rec.record_id, "url": rec.url, "language": lang,
                     "metadata": json.dumps(meta, sort_keys=True, ensure_ascii=False)})


EXTRACT_TARGET = "codeflow.web.html:extract_page"


def _extract(decoded: str, cfg: CleanCCConfig) -> tuple[list[H.CodeBlock], str]:
    """Parse + code blocks + main text under the per-page limit (see ``CleanCCConfig.extraction_isolation``)."""
    try:
        if cfg.extraction_timeout_s and cfg.extraction_isolation == "process":
            got = isolate.worker(EXTRACT_TARGET).call((decoded, cfg.favor_precision), cfg.extraction_timeout_s)
        else:
            with time_limit(cfg.extraction_timeout_s):
                got = H.extract_page(decoded, cfg.favor_precision)
    except StepTimeout as e:
        raise _Reject("extraction_timeout", str(e)) from None
    except isolate.WorkerDied as e:
        raise _Reject("extraction_crash", str(e)) from None
    if isinstance(got, str):
        raise _Reject("parse_error", got)
    return got


def _funnel(rec: WarcRecord, cfg: CleanCCConfig, did: str, warc_file: str, meta: dict,
            out: UnitResult) -> tuple[str, str, str, float]:
    if rec.damage is not None:
        raise _Reject("truncated_record", f"record at offset {rec.offset}: {rec.damage}")
    if not rec.payload and rec.block_length == 0:
        raise _Reject("empty_record", f"{rec.record_type} record at offset {rec.offset} has a zero-length block")
    if rec.http_status is not None and not 200 <= rec.http_status < 300:
        raise _Reject("http_status", str(rec.http_status))
    plain = rec.record_type == "conversion" or rec.mime in TEXT_MIMES and rec.record_type != "response"
    if not plain and rec.mime not in cfg.accept_mimes:
        raise _Reject("not_html", rec.mime or "no content type")
    if len(rec.payload) > cfg.max_page_bytes:
        raise _Reject("too_large", f"payload > {cfg.max_page_bytes} bytes")
    if rec.warc_truncated:
        out.stats["warc_truncated_header"] += 1
    try:
        decoded, charset, how = decode_payload(rec.payload, rec.declared_charset, cfg.max_replacement_ratio)
    except DecodeFailure as e:
        raise _Reject("decode_error", str(e)) from None
    meta.update(charset=charset, charset_source=how)
    out.stats[f"charset_source:{how}"] += 1
    kept_blocks: dict[int, H.CodeBlock] = {}
    if plain:
        extracted = decoded
    else:
        blocks, extracted = _extract(decoded, cfg)
        kept_blocks = _code_blocks(blocks, rec, did, warc_file, cfg, out)
        meta["n_code_blocks"] = len(kept_blocks)
    cleaned = rules.clean(extracted, out.stats)
    text, prose = assemble(cleaned, kept_blocks, cfg.fence_code_in_text)
    if cfg.c4.filter_javascript_lines:
        prose = quality.javascript_lines_dropped(prose)
    if len(prose.strip()) < cfg.min_text_chars:
        raise _Reject("empty_extraction", f"{len(prose.strip())} prose chars < {cfg.min_text_chars}"
                      + (f" ({len(kept_blocks)} code blocks kept)" if kept_blocks else ""))
    lang, score = lid.identify(prose)
    meta["language"] = lang
    if cfg.languages and (lang not in cfg.languages or score < cfg.min_language_score):
        raise _Reject("language", f"{lang}:{score:.2f}")
    failed = quality.first_failure(prose, cfg.filters, {"gopher": cfg.gopher, "c4": cfg.c4,
                                                        "fineweb": cfg.fineweb})
    if failed:
        raise _Reject(failed[0], failed[1])
    return text, prose, lang, score


def _one(item, unit: str, cfg: CleanCCConfig, out: UnitResult) -> None:
    """Account for one item of the reader; each of its three outcomes is handled here, anything else is a bug."""
    warc_file = posixpath.basename(unit)
    if isinstance(item, Skipped):
        out.stats[f"other_records:{item.record_type}"] += 1
    elif isinstance(item, ReadProblem):
        out.stats["records_in"] += 1
        out.stats["warc_resyncs"] += item.resumed_at is not None
        after = f"resumed at {item.resumed_at}" if item.resumed_at is not None else "nothing readable after it"
        detail = item.error if item.reason != "warc_read_error" else f"offset {item.offset}: {item.error}; {after}"
        out.doc_rejects.append({"id": stable_id(warc_file, str(item.offset), prefix="cc-bad-"), "stage": STAGE,
                                "reason": item.reason, "detail": detail[:500],
                                "source": f"{warc_file}@{item.offset}"})
    elif isinstance(item, WarcRecord):
        out.stats["records_in"] += 1
        out.stats["bytes_in"] += len(item.payload)
        clean_record(item, cfg, warc_file, out)
    else:
        raise TypeError(f"the WARC reader yielded {type(item).__name__}; expected WarcRecord, Skipped or ReadProblem")


def process_warc(unit: str, cfg: CleanCCConfig) -> UnitResult:
    """The whole funnel over one WARC file. A file that cannot be opened at all is one ``warc_read_error``."""
    out = UnitResult()
    try:
        for item in iter_warc(unit, cfg.max_page_bytes):
            _one(item, unit, cfg, out)
    except (FileNotFoundError, PermissionError, IsADirectoryError) as e:  # the file itself cannot be read
        _one(ReadProblem(0, f"{type(e).__name__}: {e}".splitlines()[0][:300], None), unit, cfg, out)
    return out
