"""Word vocabulary: text <-> integer ids in the kernels' flat corpus format.

The RNN kernels consume a corpus of ``n`` sentences as two flat arrays:

``tokens`` : ndarray of int32, shape (T,)
    The word ids of all sentences, concatenated.
``offsets`` : ndarray of int64, shape (n + 1,)
    ``offsets[0] == 0``, non-decreasing, ``offsets[-1] == T``; sentence ``i``
    is ``tokens[offsets[i]:offsets[i + 1]]``.

:class:`Vocabulary` builds the word -> id table from training texts and
converts texts to (and from) that format. Id 0 is reserved for unknown words,
so an RNN for a vocabulary ``v`` has ``len(v)`` input rows.

Only the standard library and numpy are used.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable as _IterableABC
from itertools import chain, repeat
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ._validation import check_int

__all__ = ["Vocabulary", "default_tokenizer", "UNKNOWN_TOKEN"]

#: Token string of the reserved id 0 (unknown word).
UNKNOWN_TOKEN = "<unk>"

_FORMAT = 1


def _mark_ranges(lo: int, hi: int) -> List[Tuple[int, int]]:
    """Code point ranges of the combining marks (categories Mn, Mc, Me) in [lo, hi)."""
    ranges: List[List[int]] = []
    for cp in range(lo, hi):
        if unicodedata.category(chr(cp))[0] == "M":
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1][1] = cp
            else:
                ranges.append([cp, cp])
    return [(a, b) for a, b in ranges]


def _char_class(ranges: Iterable[Tuple[int, int]]) -> str:
    parts = []
    for a, b in ranges:
        parts.append(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}")
    return "".join(parts)


def _build_word_regexes() -> Tuple["re.Pattern[str]", "re.Pattern[str]"]:
    # Python's ``\w`` matches letters and digits of every script, but not the
    # combining marks (accents in decomposed form, Indic vowel signs and
    # viramas, ...) that belong inside words: "हिन्दी" or "cafe\u0301" would be
    # cut apart. Marks are added to the word class. Marks of the Basic
    # Multilingual Plane go into the same class as ``\w`` (sre keeps such a
    # class as a fast bitmap); the few supplementary-plane marks (historic
    # scripts, variation selectors) are matched in a second class tried only
    # at the end of a run, so that the common case stays fast. ``\w`` also
    # matches "_", which the tokenizer replaces by a space beforehand.
    marks = _mark_ranges(0x0300, 0x1F000)
    bmp = [r for r in marks if r[1] < 0x10000]
    sup = [r for r in marks if r[0] >= 0x10000] + [(0xE0100, 0xE01EF)]
    char = f"[\\w{_char_class(bmp)}]"
    piece = f"{char}+(?:[{_char_class(sup)}]+{char}*)*"
    full = re.compile(f"{piece}(?:['\u2019]{piece})*")
    # Same, for text without supplementary-plane characters: faster.
    bmp_only = re.compile(f"{char}+(?:['\u2019]{char}+)*")
    return full, bmp_only


_WORD_RE, _WORD_RE_BMP = _build_word_regexes()
_findall = _WORD_RE.findall

# Batch tokenisation (fit/encode with the default tokenizer): the texts are
# joined with the separator token _SEP and split in one pass, which avoids a
# Python call per text. _SEP is a NUL character, never part of a word; texts
# that contain one take the per-text path.
_SEP = "\x00"
_CHUNK = 1 << 16  # texts per batch
_WORD_OR_SEP_RE = re.compile(_WORD_RE.pattern + "|" + _SEP)
_WORD_OR_SEP_RE_BMP = re.compile(_WORD_RE_BMP.pattern + "|" + _SEP)
# Pure-ASCII text (the common case) takes a faster equivalent of _WORD_RE:
# after lower-casing, every character but [a-z0-9'] and _SEP becomes a space,
# apostrophes not between two word characters become spaces, then str.split.
_ASCII_KEEP = set("abcdefghijklmnopqrstuvwxyz0123456789'" + _SEP)
_ASCII_TABLE = {i: " " for i in range(128) if chr(i) not in _ASCII_KEEP}
_ASCII_LONE_APOSTROPHE = re.compile(r"'(?:(?<![a-z0-9]')|(?![a-z0-9]))")


class _Separator:
    """Type of _SEP_OBJECT, the text separator in custom-tokenized token lists."""

    __slots__ = ()


_SEP_OBJECT = _Separator()


#: Per thread: the default tokenizer's output of texts tokenized already ({text: tokens}),
#: installed by :func:`shared_tokens`; None: tokenize.
_SHARED = threading.local()


def token_memo(texts) -> dict:
    """``{text: its default-tokenizer tokens}`` for ``texts``, tokenized in one pass (chunks of
    65,536): what :func:`shared_tokens` looks up.  The lists must not be modified."""
    memo: dict = {}
    items = [t for t in dict.fromkeys(texts) if isinstance(t, str)]
    prev = getattr(_SHARED, "memo", None)
    _SHARED.memo = None
    try:
        for i in range(0, len(items), _CHUNK):
            part = items[i:i + _CHUNK]
            k, cur = 0, []
            for w in _tokenize_all_default(part):
                if w == _SEP:
                    memo[part[k]] = cur
                    k, cur = k + 1, []
                else:
                    cur.append(w)
            memo[part[k]] = cur
    finally:
        _SHARED.memo = prev
    return memo


@contextlib.contextmanager
def shared_tokens(memo):
    """On this thread, inside the block, the default tokenizer takes a text's tokens from
    ``memo`` (:func:`token_memo`) when it is there: models fitted on the same texts
    (``train_many``) tokenize them once.  The tokens are the same either way."""
    prev = getattr(_SHARED, "memo", None)
    _SHARED.memo = memo
    try:
        yield
    finally:
        _SHARED.memo = prev


def _from_memo(memo, items):
    """:func:`_tokenize_all_default`'s flat list from ``memo``, or None if a text is not there."""
    out: List[str] = []
    extend, append, get = out.extend, out.append, memo.get
    for i, text in enumerate(items):
        words = get(text)
        if words is None:
            return None
        if i:
            append(_SEP)
        extend(words)
    return out


def _tokenize_all_default(items: List[str]) -> List[str]:
    """Default-tokenize all texts: one flat list, texts separated by _SEP."""
    memo = getattr(_SHARED, "memo", None)
    if memo is not None:
        flat = _from_memo(memo, items)
        if flat is not None:
            return flat
    joined = f" {_SEP} ".join(items)
    if joined.count(_SEP) != max(len(items) - 1, 0):  # some text holds a NUL
        out: List[str] = []
        for i, text in enumerate(items):
            if i:
                out.append(_SEP)
            out.extend(default_tokenizer(text))
        return out
    low = joined.lower()
    if low.isascii():
        low = low.translate(_ASCII_TABLE)
        if "'" in low:
            low = _ASCII_LONE_APOSTROPHE.sub(" ", low)
        return low.split()
    low = low.replace("_", " ")
    if max(low) < "\U00010000":
        return _WORD_OR_SEP_RE_BMP.findall(low)
    return _WORD_OR_SEP_RE.findall(low)


def pad_empty(tokens, lengths):
    """``(tokens, lengths)`` of texts whose words are ``tokens`` (ids) and ``lengths`` (int64
    words per text) with a text without words read as one unknown word (id 0), the rule of
    :meth:`Vocabulary.encode`: tokens int32 C-contiguous, lengths a new array (all >= 1)."""
    lengths = np.array(lengths, dtype=np.int64)
    empty = lengths == 0
    if empty.any():
        first = np.cumsum(lengths) - lengths  # where each text starts in `tokens`
        tokens = np.insert(tokens, first[empty], Vocabulary.UNKNOWN_ID)
        lengths[empty] = 1
    return np.ascontiguousarray(tokens, dtype=np.int32), lengths


def default_tokenizer(text: str) -> List[str]:
    """Split a text into lower-case words.

    A word is a maximal run of Unicode letters, digits and combining marks
    (any script: "Москва", "東京", "café" and "हिन्दी" are one word each);
    runs joined by an apostrophe (``'`` or ``’``) stay one word ("don't",
    "rock'n'roll"). Everything else (spaces, punctuation, symbols, ``_``)
    separates words and is dropped, and the text is lower-cased first, so
    "Good!" and "good" give the same token.

    Parameters
    ----------
    text : str
        The text to split.

    Returns
    -------
    list of str
        The words, in order; empty if the text has none.

    Examples
    --------
    >>> default_tokenizer("I don't think it's GOOD, at all!")
    ['i', "don't", 'think', "it's", 'good', 'at', 'all']
    """
    return _findall(text.lower().replace("_", " "))


def _check_texts(texts) -> list:
    """Validate an iterable of str and return it as a list."""
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, not a single str")
    if isinstance(texts, (bytes, bytearray)):
        raise TypeError("texts must be a sequence of strings, not bytes")
    try:
        iterator = iter(texts)
    except TypeError:
        raise TypeError(
            f"texts must be an iterable of str, got {type(texts).__name__}"
        ) from None
    items = list(iterator)
    if not all(isinstance(t, str) for t in items):
        i = next(i for i, t in enumerate(items) if not isinstance(t, str))
        raise TypeError(
            f"texts[{i}] must be a str, got {type(items[i]).__name__}"
        )
    return items


class Vocabulary:
    """Word <-> id table fitted on training texts.

    Id 0 (:attr:`UNKNOWN_ID`, token ``"<unk>"``) stands for every word that is
    not in the table. The known words get ids ``1 .. len(self) - 1`` by
    descending count in the fitted texts, ties broken alphabetically (by code
    point), so fitting the same texts always gives the same ids.

    Parameters
    ----------
    tokenizer : callable or None, optional
        ``str -> list of str``, the function splitting a text into words. The
        default (None) is :func:`default_tokenizer`: lower-case, Unicode words,
        punctuation dropped. A custom tokenizer cannot be serialised: pass it
        again to :meth:`from_dict` / :meth:`from_json`.
    min_count : int, optional
        Keep only the words seen at least this many times in :meth:`fit`
        (>= 1, default 1: every word).
    max_size : int or None, optional
        Keep at most this many known words, the most frequent ones (>= 1;
        None, the default: no limit). It does not count the reserved id 0, so
        ``len(self) <= max_size + 1``.

    Attributes
    ----------
    UNKNOWN_ID : int
        0, the id of unknown words.
    UNKNOWN_TOKEN : str
        ``"<unk>"``, the word of id 0 in :attr:`words` and :meth:`decode`.

    Notes
    -----
    The token ``"<unk>"`` itself, should a custom tokenizer produce it, is
    never a known word: it maps to id 0.

    Examples
    --------
    >>> v = Vocabulary().fit(["this is good", "this is not good", "bad"])
    >>> v.words
    ['<unk>', 'good', 'is', 'this', 'bad', 'not']
    >>> tokens, offsets = v.encode(["This is GREAT!", "..."])
    >>> tokens
    array([3, 2, 0, 0], dtype=int32)
    >>> offsets
    array([0, 3, 4])
    """

    UNKNOWN_ID = 0
    UNKNOWN_TOKEN = UNKNOWN_TOKEN

    __hash__ = None  # mutable (fit), so unhashable despite __eq__

    def __init__(
        self,
        tokenizer: Optional[Callable[[str], Sequence[str]]] = None,
        min_count: int = 1,
        max_size: Optional[int] = None,
    ):
        if tokenizer is not None and not callable(tokenizer):
            raise TypeError(
                "tokenizer must be a callable str -> list of str or None, "
                f"got {type(tokenizer).__name__}"
            )
        self._custom = tokenizer is not None
        self._tokenizer = tokenizer if tokenizer is not None else default_tokenizer
        self._min_count = check_int("min_count", min_count, 1)
        self._max_size = None if max_size is None else check_int("max_size", max_size, 1)
        self._set_words([UNKNOWN_TOKEN], {})
        self._fitted = False

    # ------------------------------------------------------------------ state
    def _set_words(self, words: List[str], counts: dict) -> None:
        self._words = list(words)
        self._index = {w: i for i, w in enumerate(self._words)}
        self._counts = dict(counts)
        # Lookup for encode(): the index plus the text separator of the
        # tokenizer's batch path, mapped to -1.
        self._index_sep = dict(self._index)
        self._index_sep[_SEP_OBJECT if self._custom else _SEP] = -1
        self._words_array = np.array(self._words, dtype=object)

    @property
    def min_count(self) -> int:
        """int: the minimum count of a known word (read-only)."""
        return self._min_count

    @property
    def max_size(self) -> Optional[int]:
        """int or None: the maximum number of known words (read-only)."""
        return self._max_size

    @property
    def tokenizer(self) -> Callable[[str], Sequence[str]]:
        """callable: the function splitting a text into words."""
        return self._tokenizer

    @property
    def fitted(self) -> bool:
        """bool: whether :meth:`fit` (or :meth:`from_dict`) has set the words."""
        return self._fitted

    @property
    def words(self) -> List[str]:
        """list of str: the words by id (``words[0] == "<unk>"``); a copy."""
        return list(self._words)

    @property
    def counts(self) -> dict:
        """dict: known word -> its count in the fitted texts, in id order; a copy."""
        return dict(self._counts)

    def __len__(self) -> int:
        """Number of ids, the reserved id 0 included (the RNN's input size V)."""
        return len(self._words)

    def __contains__(self, word) -> bool:
        """Whether ``word`` is a known word (``"<unk>"`` is not)."""
        return isinstance(word, str) and self._index.get(word, 0) != 0

    def index(self, word: str) -> int:
        """Id of one word (already tokenised: no lower-casing), 0 if unknown.

        Parameters
        ----------
        word : str

        Returns
        -------
        int
            In ``0 .. len(self) - 1``.
        """
        if not isinstance(word, str):
            raise TypeError(f"word must be a str, got {type(word).__name__}")
        return self._index.get(word, 0)

    def _require_fitted(self, what: str) -> None:
        if not self._fitted:
            raise RuntimeError(
                f"Vocabulary.{what}() needs a fitted vocabulary: call fit(texts) first"
            )

    def _tokenize(self, text: str):
        words = self._tokenizer(text)
        if isinstance(words, (str, bytes)) or not isinstance(words, _IterableABC):
            raise TypeError(
                "tokenizer must return a list of str, "
                f"got {type(words).__name__} for text {text[:40]!r}"
            )
        return words

    # -------------------------------------------------------------------- fit
    def fit(self, texts: Iterable[str]) -> "Vocabulary":
        """Count the words of ``texts`` and set the known words and their ids.

        Words seen fewer than ``min_count`` times are dropped, then only the
        ``max_size`` most frequent are kept. Ids follow descending count, ties
        broken alphabetically. Fitting again replaces the previous words.

        Parameters
        ----------
        texts : iterable of str
            The training texts (not a single str). Must not be empty.

        Returns
        -------
        Vocabulary
            ``self``.
        """
        items = _check_texts(texts)
        if not items:
            raise ValueError("fit() got no texts: texts is empty")
        if self._custom:
            counter = Counter(chain.from_iterable(map(self._tokenize, items)))
        else:
            counter = Counter()
            for i in range(0, len(items), _CHUNK):
                counter.update(_tokenize_all_default(items[i:i + _CHUNK]))
            counter.pop(_SEP, None)
        for w in counter:
            if not isinstance(w, str):
                raise TypeError(
                    f"tokenizer must return str tokens, got {type(w).__name__} ({w!r})"
                )
        counter.pop(UNKNOWN_TOKEN, None)
        kept = [(w, c) for w, c in counter.items() if c >= self.min_count]
        kept.sort(key=lambda wc: (-wc[1], wc[0]))
        if self.max_size is not None:
            kept = kept[: self.max_size]
        self._set_fitted([UNKNOWN_TOKEN] + [w for w, _ in kept], dict(kept))
        return self

    def _set_fitted(self, words: List[str], counts: dict) -> None:
        """Set the fitted words (``words[0]`` the unknown token) and their counts: the end of
        :meth:`fit`, and of ``fastrnn._shared_corpus.SharedCorpus.fit_vocabulary``."""
        self._set_words(words, counts)
        self._fitted = True

    # ----------------------------------------------------------------- encode
    def encode(self, texts: Iterable[str]) -> Tuple[np.ndarray, np.ndarray]:
        """Convert texts to the kernels' flat ``(tokens, offsets)`` format.

        Unknown words map to id 0. A text without any word (empty, only
        spaces or punctuation) is encoded as one unknown token, a single step
        of id 0, so that every sentence has at least one step.

        Parameters
        ----------
        texts : iterable of str
            n texts (not a single str); may be empty.

        Returns
        -------
        tokens : ndarray of int32, shape (T,)
            The word ids of all texts, concatenated; ``T >= n``.
        offsets : ndarray of int64, shape (n + 1,)
            ``offsets[0] == 0``; text ``i`` is ``tokens[offsets[i]:offsets[i + 1]]``.

        Notes
        -----
        With the default tokenizer, all texts are split in a few passes over
        their concatenation rather than one call per text: 10**6 sentences of
        8 ASCII words take about 1 s (non-ASCII text about 4 s). Memory stays
        bounded: texts are processed in chunks of 65,536.
        """
        self._require_fitted("encode")
        items = _check_texts(texts)
        if not items:
            return np.zeros(0, dtype=np.int32), np.zeros(1, dtype=np.int64)
        # In chunks, to bound the memory of the intermediate token lists.
        parts = [self._encode_chunk(items[i:i + _CHUNK]) for i in range(0, len(items), _CHUNK)]
        tokens = np.concatenate([t for t, _ in parts]) if len(parts) > 1 else parts[0][0]
        lengths = np.concatenate([n for _, n in parts]) if len(parts) > 1 else parts[0][1]
        offsets = np.zeros(len(items) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return tokens, offsets

    def _encode_chunk(self, items: List[str]) -> Tuple[np.ndarray, np.ndarray]:
        """Tokens (int32) and per-text lengths (int64) of a non-empty list of texts."""
        if self._custom:
            flat = self._tokenize_all_custom(items)
        else:
            flat = _tokenize_all_default(items)
        # Ids with the separator as -1: one C-level pass (map over dict.get).
        ids = np.fromiter(
            map(self._index_sep.get, flat, repeat(0)), dtype=np.int32, count=len(flat)
        )
        del flat
        is_sep = ids < 0
        sep = np.flatnonzero(is_sep)
        starts = np.concatenate(([0], sep + 1))
        ends = np.concatenate((sep, [ids.size]))
        lengths = (ends - starts).astype(np.int64)
        tokens = ids[~is_sep] if sep.size else ids
        return pad_empty(tokens, lengths)

    def _tokenize_all_custom(self, items: List[str]) -> list:
        """Custom-tokenize all texts: one flat list, texts separated by _SEP_OBJECT."""
        flat: list = []
        extend, append = flat.extend, flat.append
        for i, text in enumerate(items):
            if i:
                append(_SEP_OBJECT)
            extend(self._tokenize(text))
        if not set(map(type, flat)) <= {str, _Separator}:
            for w in flat:
                if not isinstance(w, (str, _Separator)):
                    raise TypeError(
                        f"tokenizer must return str tokens, got {type(w).__name__} ({w!r})"
                    )
        return flat

    def decode(self, tokens, offsets=None):
        """Convert ids back to words.

        Parameters
        ----------
        tokens : array_like of int, shape (T,)
            Ids in ``0 .. len(self) - 1``.
        offsets : array_like of int, shape (n + 1,), optional
            Sentence boundaries as returned by :meth:`encode`.

        Returns
        -------
        list of str
            Without ``offsets``: the T words (id 0 -> ``"<unk>"``). With
            ``offsets``: the n sentences, each its words joined by one space.
        """
        self._require_fitted("decode")
        tok = self._as_int_array(tokens, "tokens")
        if tok.size and (tok.min() < 0 or tok.max() >= len(self)):
            bad = tok[(tok < 0) | (tok >= len(self))][0]
            raise ValueError(
                f"tokens contains id {int(bad)}, outside 0..{len(self) - 1} "
                "(the vocabulary size)"
            )
        words = self._words_array[tok].tolist()
        if offsets is None:
            return words
        off = self._as_int_array(offsets, "offsets")
        if off.size == 0 or off[0] != 0:
            raise ValueError("offsets must start with 0")
        if off[-1] != tok.size:
            raise ValueError(
                f"offsets[-1] is {int(off[-1])} but tokens has {tok.size} ids"
            )
        if np.any(np.diff(off) < 0):
            raise ValueError("offsets must be non-decreasing")
        bounds = off.tolist()
        return [" ".join(words[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]

    @staticmethod
    def _as_int_array(values, name: str) -> np.ndarray:
        arr = np.asarray(values)
        if arr.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
        if arr.size == 0:
            return arr.astype(np.int64)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
        return arr.astype(np.int64, copy=False)

    # ---------------------------------------------------------- serialisation
    def to_dict(self) -> dict:
        """A plain, JSON-serialisable description of the fitted vocabulary.

        Returns
        -------
        dict
            ``{"format": 1, "words": [...], "counts": {...}, "min_count": int,
            "max_size": int or None, "tokenizer": "default" or "custom"}``;
            ``words`` are in id order, starting with ``"<unk>"``, ``counts``
            maps each known word to its count.
        """
        self._require_fitted("to_dict")
        return {
            "format": _FORMAT,
            "words": list(self._words),
            "counts": dict(self._counts),
            "min_count": self.min_count,
            "max_size": self.max_size,
            "tokenizer": "custom" if self._custom else "default",
        }

    @classmethod
    def from_dict(cls, d: dict, tokenizer=None) -> "Vocabulary":
        """Rebuild a vocabulary from :meth:`to_dict` output.

        Parameters
        ----------
        d : dict
            As returned by :meth:`to_dict`.
        tokenizer : callable, optional
            Required when the vocabulary was built with a custom tokenizer
            (``d["tokenizer"] == "custom"``), refused otherwise.

        Returns
        -------
        Vocabulary
            Fitted, equal to the one serialised (with the same tokenizer).
        """
        if not isinstance(d, dict):
            raise TypeError(f"vocabulary dict must be a dict, got {type(d).__name__}")
        keys = ("format", "words", "counts", "min_count", "max_size", "tokenizer")
        missing = [k for k in keys if k not in d]
        if missing:
            raise ValueError(f"vocabulary dict is missing key(s): {', '.join(missing)}")
        if isinstance(d["format"], bool) or d["format"] != _FORMAT:
            raise ValueError(
                f"unsupported vocabulary format {d['format']!r} (this version reads {_FORMAT})"
            )
        kind = d["tokenizer"]
        if kind not in ("default", "custom"):
            raise ValueError(
                f"vocabulary dict 'tokenizer' must be 'default' or 'custom', got {kind!r}"
            )
        if kind == "custom" and tokenizer is None:
            raise ValueError(
                "this vocabulary was built with a custom tokenizer, which is not "
                "serialised: pass the same function as tokenizer="
            )
        if kind == "default" and tokenizer is not None:
            raise ValueError(
                "this vocabulary uses the default tokenizer: do not pass tokenizer="
            )
        words = d["words"]
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise ValueError("vocabulary dict 'words' must be a list of str")
        if not words or words[0] != UNKNOWN_TOKEN:
            raise ValueError(f"vocabulary dict 'words' must start with {UNKNOWN_TOKEN!r}")
        if len(set(words)) != len(words):
            seen = set()
            dup = next(w for w in words if w in seen or seen.add(w))
            raise ValueError(f"vocabulary dict 'words' has duplicate word {dup!r}")
        counts = d["counts"]
        if not isinstance(counts, dict):
            raise ValueError("vocabulary dict 'counts' must be a dict word -> count")
        if set(counts) != set(words[1:]):
            extra = sorted(set(counts) - set(words[1:]))
            lacking = sorted(set(words[1:]) - set(counts))
            raise ValueError(
                "vocabulary dict 'counts' must have exactly the known words as keys"
                + (f"; not in words: {extra[:5]}" if extra else "")
                + (f"; missing: {lacking[:5]}" if lacking else "")
            )
        for w, c in counts.items():
            if isinstance(c, bool) or not isinstance(c, int) or c < 1:
                raise ValueError(
                    f"vocabulary dict 'counts'[{w!r}] must be an int >= 1, got {c!r}"
                )
        try:
            vocab = cls(tokenizer=tokenizer, min_count=d["min_count"], max_size=d["max_size"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"vocabulary dict has a bad setting: {exc}") from None
        if vocab.max_size is not None and len(words) - 1 > vocab.max_size:
            raise ValueError(
                f"vocabulary dict has {len(words) - 1} known words, more than its "
                f"max_size {vocab.max_size}"
            )
        vocab._set_words(words, {w: counts[w] for w in words[1:]})
        vocab._fitted = True
        return vocab

    def to_json(self, **kwargs) -> str:
        """:meth:`to_dict` as a JSON string (``kwargs`` go to :func:`json.dumps`)."""
        kwargs.setdefault("ensure_ascii", False)
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_json(cls, s, tokenizer=None) -> "Vocabulary":
        """Rebuild a vocabulary from :meth:`to_json` output (str or UTF-8 bytes)."""
        if not isinstance(s, (str, bytes, bytearray)):
            raise TypeError(f"from_json() needs a str, got {type(s).__name__}")
        try:
            d = json.loads(s)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"vocabulary JSON is not valid JSON: {exc}") from None
        if not isinstance(d, dict):
            raise ValueError(
                f"vocabulary JSON must hold an object, got {type(d).__name__}"
            )
        return cls.from_dict(d, tokenizer=tokenizer)

    # ------------------------------------------------------------------ dunder
    def __eq__(self, other) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return (
            self._words == other._words
            and self._counts == other._counts
            and self.min_count == other.min_count
            and self.max_size == other.max_size
            and self._fitted == other._fitted
            and self._tokenizer is other._tokenizer
        )

    def __repr__(self) -> str:
        tok = "custom" if self._custom else "default"
        settings = f"min_count={self.min_count}, max_size={self.max_size}, tokenizer={tok!r}"
        if not self._fitted:
            return f"Vocabulary(<not fitted>, {settings})"
        head = self._words[1:6]
        more = ", ..." if len(self._words) > 6 else ""
        shown = ", ".join(repr(w) for w in head) + more
        return f"Vocabulary(size={len(self)}, {settings}, words=[<unk>, {shown}])"
