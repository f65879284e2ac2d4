"""One dataset's default-tokenizer tokens coded once, for the many models ``train_many`` fits
on it.

A fit spends most of its preparation (:func:`fastrnn._fit.prepare`) under the GIL: counting
the training words, sorting the vocabulary, mapping every token to its id, hashing the word
n-grams.  On a thread pool that time does not overlap (2,000 MR sentences: 19.3 ms per
model with the token memo, 4.6 ms from this, against tens of ms per epoch of nogil kernel),
so ``train_many`` codes the dataset once here and each model's preparation becomes a few
array gathers:

* every distinct token of the dataset gets a dataset id (first occurrence order); a text is a
  range of ``gid``;
* a model's vocabulary is a ``bincount`` of its training texts' ``gid`` and one ``lexsort``
  (descending count, ties by the words' code points: :meth:`Vocabulary.fit`'s order), its
  token ids one lookup table;
* a text's n-gram arrays depend on its own tokens only (:mod:`fastrnn.ngrams` hashes the
  token strings, known or not), so they are computed once for the whole dataset per
  ``(ngrams, buckets)`` and gathered per model.

Everything it returns is equal, array for array, to what :meth:`Vocabulary.fit` and
:func:`fastrnn.ngrams.encode` return on the same texts (tested), so the weights stay
bit-identical to ``Model.fit``'s.
"""

import threading

import numpy as np

from . import ngrams as NG
from .vocab import UNKNOWN_TOKEN, pad_empty, token_memo

__all__ = ["SharedCorpus"]


def _ranges(starts, lengths):
    """The concatenated index ranges ``starts[i] .. starts[i] + lengths[i]`` (int64)."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    # position k of the output lies in range i: start_i + (k - (ends_i - len_i))
    shift = np.repeat(starts - (ends - lengths), lengths)
    return np.arange(total, dtype=np.int64) + shift


class SharedCorpus:
    """The default tokenizer's output of ``texts`` (then ``extra``, e.g. validation texts),
    coded once.  Positions ``0 .. len(texts) - 1`` are ``texts``, the rest ``extra``.

    ``memo``: a :func:`fastrnn.vocab.token_memo` of these texts (made if not given).  Safe to
    use from several threads (the n-gram arrays are made once per ``(ngrams, buckets)`` under
    a lock; everything else is read-only).
    """

    def __init__(self, texts, extra=(), memo=None):
        self.texts, self.extra = list(texts), list(extra)
        items = self.texts + self.extra
        self.memo = memo = token_memo(items) if memo is None else memo
        lists = [memo[t] for t in items]
        lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        flat = [w for ws in lists for w in ws]
        index = dict.fromkeys(flat)
        self.types = list(index)  # distinct tokens, first occurrence order
        for i, w in enumerate(self.types):
            index[w] = i
        self.gid = np.fromiter(map(index.__getitem__, flat), dtype=np.int64, count=len(flat))
        self.lengths = lengths  # raw token counts (0 for a text without words)
        self.starts = np.zeros(len(items), dtype=np.int64)
        if len(items) > 1:
            np.cumsum(lengths[:-1], out=self.starts[1:])
        # the types' rank in code-point order (Vocabulary.fit's tie-break), by Python's sort
        rank = np.empty(len(self.types), dtype=np.int64)
        rank[sorted(range(len(self.types)), key=self.types.__getitem__)] = np.arange(
            len(self.types))
        self.rank = rank
        self.unk_type = index.get(UNKNOWN_TOKEN)  # never a known word (Vocabulary.fit)
        self._grams = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ positions
    def positions(self, texts, extra=False):
        """The positions of ``texts`` if they are exactly this corpus's ``texts`` (or, with
        ``extra``, its ``extra``), as ``arange``; else None."""
        own = self.extra if extra else self.texts
        if len(texts) != len(own) or texts != own:
            return None
        return np.arange(len(own), dtype=np.int64) + (len(self.texts) if extra else 0)

    # ------------------------------------------------------------ vocabulary
    def fit_vocabulary(self, vocab, positions):
        """Fit ``vocab`` (default tokenizer, not fitted by anything else) on the texts at
        ``positions``: the words, ids and counts of ``vocab.fit`` on those texts."""
        if vocab._custom:
            raise ValueError("a shared corpus holds the default tokenizer's tokens only")
        if positions.size == 0:
            raise ValueError("fit() got no texts: texts is empty")
        tok = self.gid[_ranges(self.starts[positions], self.lengths[positions])]
        counts = np.bincount(tok, minlength=len(self.types))
        if self.unk_type is not None:
            counts[self.unk_type] = 0
        kept = np.flatnonzero(counts >= vocab.min_count)
        kept = kept[np.lexsort((self.rank[kept], -counts[kept]))]
        if vocab.max_size is not None:
            kept = kept[:vocab.max_size]
        words = [self.types[i] for i in kept.tolist()]
        vocab._set_fitted([UNKNOWN_TOKEN] + words, dict(zip(words, counts[kept].tolist())))
        ids = np.zeros(len(self.types), dtype=np.int32)  # dataset id -> vocabulary id
        ids[kept] = np.arange(1, kept.size + 1, dtype=np.int32)
        return ids

    # -------------------------------------------------------------- encoding
    def encode(self, ids, positions, ngrams, buckets):
        """``fastrnn.ngrams.encode(vocab, texts at positions, ngrams, buckets)``'s
        ``(tokens, offsets, grams)``; ``ids`` is :meth:`fit_vocabulary`'s table."""
        lengths = self.lengths[positions]
        tokens, lengths = pad_empty(ids[self.gid[_ranges(self.starts[positions], lengths)]],
                                    lengths)
        offsets = np.zeros(len(positions) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        if not ngrams:
            return tokens, offsets, None
        g, c, goffs, totals = self._all_grams(ngrams, buckets)
        glen = np.diff(goffs)[positions]
        at = _ranges(goffs[positions], glen)
        gram_offsets = np.zeros(len(positions) + 1, dtype=np.int64)
        np.cumsum(glen, out=gram_offsets[1:])
        return tokens, offsets, (g[at], c[at], gram_offsets, totals[positions])

    def count_empty(self, positions):
        """How many texts at ``positions`` have no word (:func:`fastrnn._fit.count_empty`)."""
        return int(np.count_nonzero(self.lengths[positions] == 0))

    def _all_grams(self, ngrams, buckets):
        key = (int(ngrams), int(buckets))
        with self._lock:
            if key not in self._grams:
                hashes = NG.fnv1a_64(self.types)[self.gid]
                offsets = np.zeros(len(self.lengths) + 1, dtype=np.int64)
                np.cumsum(self.lengths, out=offsets[1:])
                self._grams[key] = NG.ngram_arrays(hashes, offsets, *key)
            return self._grams[key]
