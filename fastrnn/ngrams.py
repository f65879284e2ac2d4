"""Hashed word n-grams for the linear path (``Model(ngrams=N, buckets=B)``).

The linear path adds to the logits the mean of one ``(O,)`` row of a ``(B, O)`` table ``U`` per
word n-gram of the sentence (orders 1..N), fastText's model beside the recurrent one.  The rows
are chosen by a fixed hash, the same on every platform and in every version:

- a token's hash is the 64-bit FNV-1a of its UTF-8 bytes (offset basis 0xcbf29ce484222325,
  prime 0x100000001b3);
- the n-gram of tokens ``t_1 .. t_k`` hashes to ``h = hash(t_1)`` then, for each next token,
  ``h = h * 116049371 + hash(t_i)`` modulo 2**64 (fastText's word n-gram combination, in 64 bits);
- its bucket is ``h % B``.

Unigrams and bigrams share the table (a unigram is the 1-gram).  The tokens are the
vocabulary's tokenizer output *before* the vocabulary maps them to ids, so words rarer than
``min_count`` (unknown to the recurrent path) still get their own rows.  Everything is computed
vectorised in numpy (uint64 arithmetic wraps), once per fit or predict.

The kernels take, per corpus, the sentences' unique buckets and their counts as flat arrays
(see :func:`ngram_arrays`): ``grams`` (M,) int64 buckets, ascending within each sentence,
``gram_counts`` (M,) int64 occurrences, ``gram_offsets`` (n+1,) int64 (sentence ``s`` owns
``grams[gram_offsets[s]:gram_offsets[s+1]]``) and ``gram_totals`` (n,) int64, the sentence's
number of n-grams (the mean's divisor).  The path is then
``y += sum_u gram_counts[u] / gram_totals[s] * U[grams[u]]``.
"""

from itertools import repeat

import numpy as np

from . import vocab as _vocab

__all__ = ["FNV_OFFSET", "FNV_PRIME", "NGRAM_MULTIPLIER", "fnv1a_64", "hash_tokens",
           "token_hashes", "ngram_arrays", "empty_arrays", "text_ngram_arrays", "encode"]

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
NGRAM_MULTIPLIER = np.uint64(116049371)


def fnv1a_64(words):
    """64-bit FNV-1a of each word's UTF-8 bytes: ``(len(words),)`` uint64, vectorised.

    One numpy pass per byte position over the words still that long, so the work is the total
    number of bytes (a long token costs only its own bytes).
    """
    encoded = [w.encode("utf-8") for w in words]
    n = len(encoded)
    h = np.full(n, FNV_OFFSET, dtype=np.uint64)
    if n == 0:
        return h
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=n)
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8).astype(np.uint64)
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    by_length = np.argsort(-lengths, kind="stable")  # the words still active are a prefix
    sorted_len = lengths[by_length]
    sorted_start = starts[by_length]
    hs = h[by_length]
    with np.errstate(over="ignore"):
        for j in range(int(sorted_len[0]) if n else 0):
            m = int(np.searchsorted(-sorted_len, -j, side="left"))  # words with length > j
            hs[:m] = (hs[:m] ^ data[sorted_start[:m] + j]) * FNV_PRIME
    h[by_length] = hs
    return h


def hash_tokens(flat, sep=None):
    """``(hashes (N,) uint64, is_sep (len(flat),) bool)`` of a flat list of tokens: each
    distinct token is hashed once; items equal to ``sep`` (the texts' separator) get none."""
    index = dict.fromkeys(flat)
    distinct = [w for w in index if w is not sep and not (sep is not None and w == sep)]
    for i, w in enumerate(distinct):
        index[w] = i
    if sep is not None and sep in index:
        index[sep] = -1
    ids = np.fromiter(map(index.__getitem__, flat), dtype=np.int64, count=len(flat))
    is_sep = ids < 0
    return fnv1a_64(distinct)[ids[~is_sep]], is_sep


def token_hashes(vocabulary, texts):
    """The raw tokens' hashes of ``texts`` as ``(hashes (N,) uint64, offsets (n+1,) int64)``.

    The tokens are ``vocabulary``'s tokenizer output (default or custom), before any mapping to
    ids: a text without words has no tokens here (the recurrent path sees one unknown word).
    """
    items = list(texts)
    hashes, lengths = [], []
    chunk = _vocab._CHUNK
    for i in range(0, len(items), chunk):
        part = items[i:i + chunk]
        if vocabulary._custom:
            flat = vocabulary._tokenize_all_custom(part)
            sep = _vocab._SEP_OBJECT
        else:
            flat = _vocab._tokenize_all_default(part)
            sep = _vocab._SEP
        h, is_sep = hash_tokens(flat, sep)
        where = np.flatnonzero(is_sep)
        ends = np.concatenate((where, [len(flat)]))
        starts = np.concatenate(([0], where + 1))
        lengths.append(ends - starts)
        hashes.append(h)
    offsets = np.zeros(len(items) + 1, dtype=np.int64)
    if items:
        np.cumsum(np.concatenate(lengths), out=offsets[1:])
    h = np.concatenate(hashes) if hashes else np.zeros(0, dtype=np.uint64)
    return h, offsets


def encode(vocabulary, texts, ngrams, buckets):
    """``vocabulary.encode(texts)`` and the texts' n-gram arrays from one tokenization:
    ``(tokens, offsets, grams)``, ``grams`` as :func:`ngram_arrays` (None for ``ngrams=0``).

    Each token is mapped once, to its vocabulary id; known words take their hash from a table
    of the vocabulary's words, only the unknown ones are hashed one by one.  The ids and
    offsets are those of :meth:`Vocabulary.encode` (a text without words: one unknown id).
    """
    if not ngrams:
        return vocabulary.encode(texts) + (None,)
    vocabulary._require_fitted("encode")
    items = _vocab._check_texts(texts)
    if not items:
        tokens, offsets = vocabulary.encode(items)
        return tokens, offsets, ngram_arrays(np.zeros(0, np.uint64), offsets, ngrams, buckets)
    word_hash = fnv1a_64(vocabulary.words)
    index = vocabulary._index_sep
    unk = vocabulary.UNKNOWN_ID
    toks, lens, hashes, hlens = [], [], [], []
    for i in range(0, len(items), _vocab._CHUNK):
        part = items[i:i + _vocab._CHUNK]
        flat = (vocabulary._tokenize_all_custom(part) if vocabulary._custom
                else _vocab._tokenize_all_default(part))
        ids = np.fromiter(map(index.get, flat, repeat(unk)), dtype=np.int32, count=len(flat))
        is_sep = ids < 0
        sep = np.flatnonzero(is_sep)
        starts = np.concatenate(([0], sep + 1))
        ends = np.concatenate((sep, [ids.size]))
        lengths = (ends - starts).astype(np.int64)
        word_pos = np.flatnonzero(~is_sep)
        tokens = ids[word_pos]
        h = word_hash[tokens]
        rare = np.flatnonzero(tokens == unk)  # words out of the vocabulary: their own hash
        if rare.size:
            h[rare] = hash_tokens([flat[j] for j in word_pos[rare].tolist()])[0]
        hashes.append(h)
        hlens.append(lengths)
        tokens, lengths = _vocab.pad_empty(tokens, lengths)
        toks.append(tokens)
        lens.append(lengths)
    offsets = np.zeros(len(items) + 1, dtype=np.int64)
    np.cumsum(np.concatenate(lens), out=offsets[1:])
    hoffsets = np.zeros(len(items) + 1, dtype=np.int64)
    np.cumsum(np.concatenate(hlens), out=hoffsets[1:])
    tokens = np.concatenate(toks) if len(toks) > 1 else toks[0]
    return tokens, offsets, ngram_arrays(np.concatenate(hashes), hoffsets, ngrams, buckets)


def ngram_arrays(hashes, offsets, ngrams, buckets):
    """The kernels' flat n-gram arrays ``(grams, gram_counts, gram_offsets, gram_totals)``.

    ``hashes`` (N,) uint64 token hashes, ``offsets`` (n+1,) int64 sentence boundaries,
    ``ngrams`` >= 1 the highest order, ``buckets`` >= 1 the table's rows.  A sentence of T
    tokens has ``sum_k max(T - k + 1, 0)`` n-grams (k = 1..ngrams); its unique buckets come in
    ascending order with their counts.  One sort of all (sentence, bucket) pairs.
    """
    hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
    offsets = np.asarray(offsets, dtype=np.int64)
    n = offsets.shape[0] - 1
    lengths = np.diff(offsets)
    sent = np.repeat(np.arange(n, dtype=np.int64), lengths)
    B = np.uint64(buckets)
    sids, bks = [], []
    h = hashes
    with np.errstate(over="ignore"):
        for k in range(1, ngrams + 1):
            if k > 1:
                m = hashes.shape[0] - (k - 1)
                if m <= 0:
                    break
                h = h[:m] * NGRAM_MULTIPLIER + hashes[k - 1:]  # tokens i .. i+k-1
                valid = sent[:m] == sent[k - 1:]
                sids.append(sent[:m][valid])
                bks.append(h[valid] % B)
            else:
                sids.append(sent)
                bks.append(h % B)
    sid = np.concatenate(sids) if sids else np.zeros(0, dtype=np.int64)
    bk = (np.concatenate(bks) if bks else np.zeros(0, dtype=np.uint64)).astype(np.int64)
    if n * int(buckets) < 2**63:
        # one int64 key per (sentence, bucket) pair: a plain sort, ~3x faster than lexsort
        key = sid * np.int64(buckets) + bk
        key.sort()
        sid, bk = key // np.int64(buckets), key % np.int64(buckets)
    else:  # pragma: no cover - needs n * buckets >= 2**63
        order = np.lexsort((bk, sid))
        sid, bk = sid[order], bk[order]
    new = np.ones(sid.shape[0], dtype=bool)
    if sid.shape[0] > 1:
        new[1:] = (sid[1:] != sid[:-1]) | (bk[1:] != bk[:-1])
    first = np.flatnonzero(new)
    grams = np.ascontiguousarray(bk[first])
    counts = np.diff(np.append(first, sid.shape[0])).astype(np.int64)
    gram_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(sid[first], minlength=n), out=gram_offsets[1:])
    totals = np.zeros(n, dtype=np.int64)
    for k in range(1, ngrams + 1):
        totals += np.maximum(lengths - (k - 1), 0)
    return grams, counts, gram_offsets, totals


def empty_arrays():
    """The four arrays for a model without the linear path (the kernels skip it)."""
    z = np.zeros(0, dtype=np.int64)
    return z, z.copy(), z.copy(), z.copy()


def text_ngram_arrays(vocabulary, texts, ngrams, buckets):
    """:func:`ngram_arrays` of ``texts`` tokenized by ``vocabulary`` (``ngrams=0``: empty)."""
    if not ngrams:
        return empty_arrays()
    return ngram_arrays(*token_hashes(vocabulary, texts), ngrams, buckets)
