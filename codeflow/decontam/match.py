"""The matchers: a batch of texts against the benchmark index, vectorized, with bounded memory.

Texts are cut into *pieces* (a record longer than ``PIECE_CHARS`` becomes overlapping pieces cut at whitespace)
and pieces are grouped into *chunks* of at most ``CHUNK_CHARS`` characters, so the token arrays of one chunk are
all that is ever in memory, whatever the record sizes: n-grams are streamed chunk by chunk and looked up in the
index; nothing builds a set of a record's n-grams. A hit is kept per (record, segment, matcher):

* ``ngram``: distinct n-grams of the segment found in the record / distinct n-grams of the segment (a union over
  the record's pieces), with the densest run of matching positions: the *overlap* share (spans are computed only
  for hits that can be reported; below the thresholds a record keeps its best score for the histogram);
* ``substring``: the whole normalised token sequence of the segment occurs in the record (score 1);
* ``minhash``: the best estimated Jaccard similarity between the segment's abstract-token shingles and a window
  of the record of about the segment's size (windows start every ``BLOCK`` shingles), for the (record, segment)
  pairs the abstract n-gram pre-filter proposes;
* ``embedding``: the best cosine between the segment and a ``embedding_window_chars`` window of the record.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from codeflow.decontam.index import BLOCK, DecontamIndex, KindIndex, fuzzy_band_keys
from codeflow.decontam.tokens import ngrams, prefix_sums, shingles, tokenize, window_hashes
from codeflow.dedup.minhash import U64, permutations

PIECE_CHARS = 1 << 20       # longer records are cut into pieces of this size ...
PIECE_OVERLAP = 1 << 15     # ... overlapping by this much, so a copied item on a cut is still whole in one piece
CHUNK_CHARS = 1 << 21       # characters tokenized at once


@dataclass
class Hit:
    """One (record, segment, matcher) match. Positions are tokens of ``piece`` (inclusive), segment tokens too."""

    record: int
    seg: int
    matcher: str
    score: float
    piece: int
    first: int
    last: int
    last_piece: int
    seg_first: int
    seg_last: int
    count: int = 0    # n-gram matcher: distinct n-grams of the segment found


@dataclass
class Piece:
    record: int
    offset: int       # character offset of the piece in its record
    text: str


def cut_pieces(texts: list[str | None]) -> list[Piece]:
    """Records as pieces; a long one is cut at whitespace with ``PIECE_OVERLAP`` characters of overlap."""
    out: list[Piece] = []
    for r, text in enumerate(texts):
        if text is None:
            continue
        start = 0
        while True:
            end = start + PIECE_CHARS
            if end >= len(text):
                out.append(Piece(r, start, text[start:]))
                break
            cut = max(text.rfind(" ", end - 4096, end), text.rfind("\n", end - 4096, end))
            end = cut if cut > start + PIECE_OVERLAP else end
            out.append(Piece(r, start, text[start:end]))
            start = end - PIECE_OVERLAP
    return out


def chunks(pieces: list[Piece]) -> list[range]:
    out, lo, size = [], 0, 0
    for i, p in enumerate(pieces):
        if size and size + len(p.text) > CHUNK_CHARS:
            out.append(range(lo, i))
            lo, size = i, 0
        size += len(p.text)
    if lo < len(pieces):
        out.append(range(lo, len(pieces)))
    return out


def probe(bitmap: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Which keys may be in the index (the bitmap of :func:`codeflow.decontam.index.key_filter`)."""
    return bitmap[(keys >> U64(64 - (len(bitmap).bit_length() - 1))).astype(np.int64)]


def _lookup(sorted_keys: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``(query i, key position j)`` for every equal key (keys may repeat)."""
    lo = np.searchsorted(sorted_keys, q, side="left")
    hi = np.searchsorted(sorted_keys, q, side="right")
    n = hi - lo
    qi = np.repeat(np.arange(len(q)), n)
    kj = np.repeat(lo, n) + (np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n))
    return qi, kj


def _present(keys: np.ndarray, bitmap: np.ndarray, h: np.ndarray, piece: np.ndarray,
             start: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The n-grams ``h`` (with their piece and start) whose hash is one of the unique sorted ``keys``: the bitmap
    drops most misses before the binary search. Returns (key position, piece, start), or None when none is."""
    maybe = np.flatnonzero(probe(bitmap, h))
    h, piece, start = h[maybe], piece[maybe], start[maybe]
    pos = np.searchsorted(keys, h)
    ok = pos < len(keys)
    ok[ok] = keys[pos[ok]] == h[ok]
    if not ok.any():
        return None
    return pos[ok].astype(np.int64), piece[ok], start[ok]


class Matcher:
    """Runs the enabled matchers of ``index`` over texts; pure and deterministic."""

    def __init__(self, index: DecontamIndex) -> None:
        self.index = index
        self.cfg = index.config
        self.perm = permutations(self.cfg.fuzzy_bands * self.cfg.fuzzy_rows, self.cfg.seed)
        self.seg_len = np.array([len(t) for t in index.seg_tokens], dtype=np.int64)
        self.seg_m: dict[str, np.ndarray] = {}  # window size (blocks) of each fuzzy segment, per kind
        for kind, ki in index.kinds.items():
            self.seg_m[kind] = np.zeros(len(self.seg_len), dtype=np.int64)
            self.seg_m[kind][ki.fuzzy_seg] = ki.fuzzy_m

    def match(self, texts: list[str | None]) -> tuple[list[Hit], list[Piece]]:
        pieces = cut_pieces(texts)
        hits: list[Hit] = []
        piece_record = np.array([p.record for p in pieces], dtype=np.int64)
        for rng in chunks(pieces):
            arr = pa.array([pieces[i].text for i in rng], pa.large_string())
            for kind, ki in self.index.kinds.items():
                raw, abstract, counts = tokenize(arr, kind)
                base = rng.start
                acc = prefix_sums(raw)
                if "ngram" in self.cfg.matchers:
                    hits.extend(self._ngram(ki, kind, raw, counts, base, piece_record, acc))
                if "substring" in self.cfg.matchers:
                    hits.extend(self._substring(ki, raw, counts, base, piece_record, acc))
                if "minhash" in self.cfg.matchers and ki.fuzzy_keys:
                    hits.extend(self._minhash(ki, kind, abstract, counts, base, piece_record))
        if "embedding" in self.cfg.matchers and self.index.embeddings is not None:
            from codeflow.decontam.embed import embedding_hits

            hits.extend(embedding_hits(self.index, pieces))
        return _best(hits, self.index), pieces

    # ---- n-gram overlap ------------------------------------------------------------------------------
    def _ngram(self, ki: KindIndex, kind: str, raw: np.ndarray, counts: np.ndarray, base: int,
               piece_record: np.ndarray, acc: np.ndarray) -> list[Hit]:
        if not len(ki.ngram_keys):
            return []
        found = _present(ki.ngram_keys, ki.ngram_filter, *ngrams(raw, counts, self.cfg.n(kind), acc))
        if found is None:
            return []
        kp, piece, rpos = found
        piece = piece + base
        lens = ki.ngram_ptr[kp + 1] - ki.ngram_ptr[kp]
        rep = np.repeat(np.arange(len(kp)), lens)
        post = np.repeat(ki.ngram_ptr[kp], lens) + (np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens,
                                                                                           lens))
        seg = ki.ngram_seg[post].astype(np.int64)
        rec = piece_record[piece[rep]]
        return [_NgramPart(rec, seg, kp[rep], piece[rep], rpos[rep], ki.ngram_pos[post])]  # type: ignore[list-item]

    # ---- exact substring -----------------------------------------------------------------------------
    def _substring(self, ki: KindIndex, raw: np.ndarray, counts: np.ndarray, base: int,
                   piece_record: np.ndarray, acc: np.ndarray) -> list[Hit]:
        """Anchor hits (a segment's first tokens) are checked all at once by the hash of the whole segment's
        length of the record from there, then token by token; the first occurrence per piece and segment counts."""
        out: list[Hit] = []
        bounds = np.concatenate([[0], np.cumsum(counts)])
        n_seg = len(self.seg_len)
        for length, keys in ki.sub_keys.items():
            h, text_of, start = ngrams(raw, counts, length, acc)
            maybe = np.flatnonzero(probe(ki.sub_filter, h))
            qi, kj = _lookup(keys, h[maybe])
            if not len(qi):
                continue
            seg = ki.sub_targets[length][kj]
            p, st = text_of[maybe][qi], start[maybe][qi]
            size = self.seg_len[seg]
            lo = bounds[p] + st
            fits = np.flatnonzero(lo + size <= bounds[p + 1])
            seg, p, st, lo, size = seg[fits], p[fits], st[fits], lo[fits], size[fits]
            same = np.flatnonzero(window_hashes(acc, lo, size) == ki.sub_hash[seg])
            same = [i for i in same.tolist()
                    if np.array_equal(raw[lo[i]:lo[i] + size[i]], self.index.seg_tokens[int(seg[i])])]
            if not same:
                continue
            _, first = np.unique(p[same] * n_seg + seg[same], return_index=True)
            for i in np.asarray(same)[np.sort(first)].tolist():
                q, s, n = int(p[i]) + base, int(st[i]), int(size[i])
                out.append(Hit(int(piece_record[q]), int(seg[i]), "substring", 1.0, q, s, s + n - 1, q, 0, n - 1))
        return out

    # ---- MinHash windows -----------------------------------------------------------------------------
    def _fuzzy_candidates(self, ki: KindIndex, abstract: np.ndarray, counts: np.ndarray, acc: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(piece, segment, first, last)``: pairs where the piece holds at least ``fuzzy_prefilter_share`` of the
        segment's distinctive abstract n-grams (see :func:`codeflow.decontam.index._prefilter`), the only pairs the
        MinHash windows compare, with the token positions of the first and last of those n-grams in the piece."""
        none = np.zeros(0, dtype=np.int64)
        if not len(ki.pre_keys):
            return none, none, none, none
        found = _present(ki.pre_keys, ki.pre_filter, *ngrams(abstract, counts, self.cfg.fuzzy_prefilter_n, acc))
        if found is None:
            return none, none, none, none
        kp, piece, start = found
        lens = ki.pre_ptr[kp + 1] - ki.pre_ptr[kp]
        post = np.repeat(ki.pre_ptr[kp], lens) + (np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens))
        n_seg = len(ki.pre_total)
        pair = np.repeat(piece, lens) * n_seg + ki.pre_seg[post]
        # distinct n-grams per pair: one sort of a packed (pair, n-gram) key, else of the two keys
        shift = max(int(len(ki.pre_keys)).bit_length(), 1)
        if (len(counts) * n_seg) < (1 << (62 - shift)):
            packed = np.unique((pair << shift) | np.repeat(kp, lens))
            u_pair = packed >> shift
        else:
            u = np.unique(np.stack([pair, np.repeat(kp, lens)]), axis=1)
            u_pair = u[0]
        group = np.flatnonzero(np.r_[True, u_pair[1:] != u_pair[:-1]])
        found = np.diff(np.r_[group, len(u_pair)])
        cand = u_pair[group]
        cand = cand[found / np.maximum(ki.pre_total[cand % n_seg], 1) >= self.cfg.fuzzy_prefilter_share]
        if not len(cand):
            return none, none, none, none
        # where in the piece: first and last hit of each kept pair
        at = np.minimum(np.searchsorted(cand, pair), len(cand) - 1)
        mine = np.flatnonzero(cand[at] == pair)
        start = np.repeat(start, lens)[mine]
        first = np.full(len(cand), np.iinfo(np.int64).max)
        last = np.zeros(len(cand), dtype=np.int64)
        np.minimum.at(first, at[mine], start)
        np.maximum.at(last, at[mine], start)
        return cand // n_seg, cand % n_seg, first, last

    def _minhash(self, ki: KindIndex, kind: str, abstract: np.ndarray, counts: np.ndarray, base: int,
                 piece_record: np.ndarray) -> list[Hit]:
        """Windows of the candidate segments' sizes, sliding by ``size / 4`` blocks, against the segments' LSH keys;
        a hit counts only for a (piece, segment) pair the pre-filter proposed.

        Per permutation the shingles are reduced to block minima (blocks restart at each piece); a sparse table
        of minima over 2**j blocks gives any window's signature as the minimum of two entries, so the cost per
        window is the signature length, never the window length.
        """
        cfg = self.cfg
        s = cfg.fuzzy_shingle
        cand_piece, cand_seg, hit_first, hit_last = self._fuzzy_candidates(ki, abstract, counts,
                                                                           prefix_sums(abstract))
        if not len(cand_piece):
            return []
        cand = np.unique(cand_piece)
        glob = base + cand  # piece number of each candidate
        n_seg = len(self.seg_len)
        row = np.searchsorted(cand, cand_piece)
        allowed = np.unique(row * n_seg + cand_seg)  # (candidate row, segment)
        # only the region around the pre-filter hits is windowed (margin: twice the segment's length), cut at
        # block boundaries of the whole piece so every window in it is the one a whole-piece pass would see
        piece_count = counts[cand]
        piece_blocks = -(-np.maximum(piece_count - s + 1, 0) // BLOCK)
        margin = 2 * self.seg_len[cand_seg] + s
        lo = np.full(len(cand), np.iinfo(np.int64).max)
        hi = np.zeros(len(cand), dtype=np.int64)
        np.minimum.at(lo, row, hit_first - margin)
        np.maximum.at(hi, row, hit_last + margin)
        b0 = np.maximum(lo, 0) // BLOCK
        b1 = np.minimum(-(-hi // BLOCK), piece_blocks)
        b0 = np.minimum(b0, b1)
        restricted = (b0 > 0) | (b1 < piece_blocks)
        t0 = b0 * BLOCK
        t1 = np.minimum(b1 * BLOCK + s - 1, piece_count)
        bounds = np.concatenate([[0], np.cumsum(counts)])
        abstract = np.concatenate([abstract[bounds[q] + a:bounds[q] + z]
                                   for q, a, z in zip(cand.tolist(), t0.tolist(), t1.tolist(), strict=True)])
        counts = np.maximum(t1 - t0, 0)
        sh, n_sh = shingles(abstract, counts, s)
        if not len(sh):
            return []
        nb = -(-n_sh // BLOCK)
        first_block = np.cumsum(nb) - nb
        n_blocks = int(nb.sum())
        # block starts in the flat shingle array: every BLOCK shingles from each region's start; block_rel counts
        # blocks from the start of the piece
        block_piece = np.repeat(np.arange(len(counts)), nb)
        local = np.arange(n_blocks) - first_block[block_piece]
        block_rel = b0[block_piece] + local
        sh_start = (np.cumsum(n_sh) - n_sh)[block_piece] + local * BLOCK
        a, b = self.perm
        n_perm = len(a)
        level = np.empty((n_perm, n_blocks), dtype=U64)  # block minima per permutation
        v = np.empty(len(sh), dtype=U64)
        for p in range(n_perm):
            np.multiply(sh, a[p], out=v)
            v += b[p]
            level[p] = np.minimum.reduceat(v, sh_start)
        sizes = sorted(set(self.seg_m[kind][cand_seg].tolist()))  # only the window sizes of candidate segments
        whole = {int(q): level[:, first_block[q]:first_block[q] + nb[q]].min(axis=1)
                 for q in np.flatnonzero((nb > 0) & (nb < sizes[-1]) & ~restricted)}  # pieces smaller than a window
        bitmap = ki.fuzzy_filter
        out: list[Hit] = []
        width = 1
        for m in sizes:
            while width * 2 <= m:  # sparse table: level holds minima over `width` blocks
                level = np.minimum(level[:, :-width], level[:, width:]) if level.shape[1] > width else level[:, :0]
                width *= 2
            stride = max(1, m // 4)
            starts = np.flatnonzero(block_rel[: max(n_blocks - m + 1, 0)] % stride == 0)
            starts = starts[block_piece[starts] == block_piece[starts + m - 1]]
            win = np.minimum(level[:, starts], level[:, starts + m - width])
            w_piece, w_first, w_blocks = block_piece[starts], block_rel[starts], np.full(len(starts), m)
            small = [q for q in whole if nb[q] < m]
            if small:
                win = np.concatenate([win, np.stack([whole[q] for q in small], axis=1)], axis=1)
                w_piece = np.concatenate([w_piece, small])
                w_first = np.concatenate([w_first, np.zeros(len(small), np.int64)])
                w_blocks = np.concatenate([w_blocks, nb[small]])
            if not win.shape[1]:
                continue
            keys = fuzzy_band_keys(win, m, cfg)  # (bands, windows)
            maybe = probe(bitmap, keys)
            band_i, w_i = np.nonzero(maybe)
            if not len(w_i):
                continue
            table_keys, table_rows = ki.fuzzy_keys[m]
            qi, kj = _lookup(table_keys, keys[band_i, w_i])
            if not len(qi):
                continue
            pairs = np.unique(np.stack([w_i[qi], table_rows[kj]], axis=1), axis=0)
            pairs = pairs[np.isin(w_piece[pairs[:, 0]] * n_seg + ki.fuzzy_seg[pairs[:, 1]], allowed)]
            if not len(pairs):
                continue
            est = (win[:, pairs[:, 0]] == ki.fuzzy_sig[pairs[:, 1]].T).mean(axis=0)
            for (w, sig_row), e in zip(pairs.tolist(), est.tolist(), strict=True):
                q = int(w_piece[w])
                first = int(w_first[w]) * BLOCK
                last = min((int(w_first[w]) + int(w_blocks[w])) * BLOCK + s - 1, int(piece_count[q])) - 1
                seg, piece = int(ki.fuzzy_seg[sig_row]), int(glob[q])
                out.append(Hit(int(piece_record[piece]), seg, "minhash", float(e), piece, first, last, piece, 0,
                               len(self.index.seg_tokens[seg]) - 1))
        return out


def _densest(piece: np.ndarray, pos: np.ndarray, width: int) -> tuple[int, int]:
    """Indices of the first and last hit of the window of ``width`` tokens holding the most hits.

    The span shown in the report is where the copy is, not the spread of a few common n-grams elsewhere.
    """
    key = piece.astype(np.int64) * (1 << 40) + pos
    order = np.argsort(key, kind="stable")
    k = key[order]
    ends = np.searchsorted(k, k + width, side="left")
    best = int(np.argmax(ends - np.arange(len(k))))
    return int(order[best]), int(order[ends[best] - 1])


@dataclass
class _NgramPart:
    """Raw n-gram hits of one chunk (aggregated over the whole batch by :func:`_best`)."""

    rec: np.ndarray
    seg: np.ndarray
    key: np.ndarray     # the n-gram: its position in its kind's sorted keys (a segment has one kind)
    piece: np.ndarray
    rpos: np.ndarray
    spos: np.ndarray


def _best(hits: list, index: DecontamIndex) -> list[Hit]:
    """One hit per (record, segment, matcher): n-gram parts unioned over chunks, the best of the others."""
    parts = [h for h in hits if isinstance(h, _NgramPart)]
    out: dict[tuple[int, int, str], Hit] = {}
    for h in hits:
        if isinstance(h, Hit):
            key = (h.record, h.seg, h.matcher)
            if key not in out or h.score > out[key].score:
                out[key] = h
    if parts:
        cfg = index.config
        n_seg = len(index.seg_total)
        rec = np.concatenate([p.rec for p in parts])
        seg = np.concatenate([p.seg for p in parts])
        key = np.concatenate([p.key for p in parts])
        group = rec * n_seg + seg
        # distinct n-grams per (record, segment): one sort of a packed (group, n-gram) key
        shift = max(int(key.max()) + 1, 1).bit_length()
        if int(group.max()) < (1 << (62 - shift)):
            ug = np.unique((group << shift) | key) >> shift
        else:
            ug = np.unique(np.stack([group, key]), axis=1)[0]
        starts = np.flatnonzero(np.r_[True, ug[1:] != ug[:-1]])
        n_distinct = np.diff(np.r_[starts, len(ug)])
        groups = ug[starts]
        g_rec, g_seg = groups // n_seg, groups % n_seg
        score = n_distinct / np.maximum(index.seg_total[g_seg], 1)
        reported = (score + 1e-12 >= cfg.ngram_threshold) & (n_distinct >= cfg.min_ngrams)
        # a record's best unreported overlap only feeds the score histogram: one hit, no span
        low = np.flatnonzero(~reported)
        low = low[np.lexsort((g_seg[low], -score[low], g_rec[low]))]
        low = low[np.r_[True, g_rec[low][1:] != g_rec[low][:-1]]] if len(low) else low
        for g in low.tolist():
            r, s_ = int(g_rec[g]), int(g_seg[g])
            out[(r, s_, "ngram")] = Hit(r, s_, "ngram", float(score[g]), 0, 0, 0, 0, 0, 0, int(n_distinct[g]))
        # reported ones: their hits, with the densest span
        rows = np.flatnonzero(np.isin(group, groups[reported]))
        piece = np.concatenate([p.piece for p in parts])[rows]
        rpos = np.concatenate([p.rpos for p in parts])[rows]
        spos = np.concatenate([p.spos for p in parts])[rows]
        rec, seg, group = rec[rows], seg[rows], group[rows]
        order = np.lexsort((rpos, piece, group))
        rec, seg, group, piece, rpos, spos = (x[order] for x in (rec, seg, group, piece, rpos, spos))
        group_start = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])[:len(group)]
        ends = np.r_[group_start[1:], len(group)][:len(group_start)]
        at = np.searchsorted(groups, group[group_start])
        for g, lo, hi in zip(at.tolist(), group_start.tolist(), ends.tolist(), strict=True):
            r, s = int(rec[lo]), int(seg[lo])
            i_first, i_last = _densest(piece[lo:hi], rpos[lo:hi], 2 * len(index.seg_tokens[s]) + 1)
            i_first, i_last = lo + i_first, lo + i_last
            n = cfg.n(index.seg_kind[s])
            out[(r, s, "ngram")] = Hit(r, s, "ngram", float(score[g]), int(piece[i_first]), int(rpos[i_first]),
                                       int(rpos[i_last]) + n - 1, int(piece[i_last]), int(spos[lo:hi].min()),
                                       int(spos[lo:hi].max()) + n - 1, int(n_distinct[g]))
    return [out[k] for k in sorted(out)]
