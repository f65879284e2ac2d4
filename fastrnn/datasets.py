"""Text classification data: loaders for user files and a generated corpus.

Loaders
-------
:func:`load_tsv`, :func:`load_csv`, :func:`load_jsonl` and :func:`load` (by
file suffix) read a labelled text file into ``(texts, labels)``: a list of
str and a numpy array, int64 when every label is an integer, str otherwise.

Generated corpus
----------------
:func:`make_corpus` draws short English sentiment sentences ("i am not at all
happy", "this was good earlier", "the movie was boring but the food was
great") whose label follows from a few composition rules (negation, "but",
contrast), from a vocabulary of 51 words. :func:`load_demo` splits one such
corpus into train and test sets. It is the package's demo, test and benchmark
data: a 64-unit RNN learns it to >= 99% test accuracy.

Only the standard library and numpy are used.
"""

from __future__ import annotations

import csv
import io
import json
import numbers
import os
import re
from typing import List, Union

import numpy as np

from ._io import as_path, read_text
from ._validation import check_int

__all__ = [
    "load",
    "load_tsv",
    "load_csv",
    "load_jsonl",
    "load_texts",
    "make_corpus",
    "load_demo",
    "corpus_words",
]

PathLike = Union[str, "os.PathLike[str]"]

# --------------------------------------------------------------------------
# Shared validation
# --------------------------------------------------------------------------


def _as_rng(seed) -> np.random.Generator:
    if seed is None or isinstance(seed, np.random.Generator):
        return np.random.default_rng(seed)  # a Generator is returned as is
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"seed must be None, an int or a numpy.random.Generator, got {type(seed).__name__}"
        )
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return np.random.default_rng(int(seed))


# --------------------------------------------------------------------------
# Loaders
# --------------------------------------------------------------------------

_INT_RE = re.compile(r"[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _check_columns(text, label) -> None:
    for name, value in (("text", text), ("label", label)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str (a column name), got {type(value).__name__}")
    if text == label:
        raise ValueError(f"text and label must name different columns, both are {text!r}")


def _labels_array(labels: List[str]) -> np.ndarray:
    """int64 array if every label is an integer in int64 range, else a str array."""
    if all(_INT_RE.fullmatch(s) for s in labels):
        values = [int(s) for s in labels]
        if _INT64_MIN <= min(values) and max(values) <= _INT64_MAX:
            return np.array(values, dtype=np.int64)
    return np.array(labels, dtype=str)


_SEPARATORS = {"\t": ("tab", ".tsv"), ",": ("comma", ".csv")}


def _separator_hint(header, delimiter):
    """A hint when a one-column header holds the other separator (a CSV named .tsv, ...)."""
    if len(header) == 1:
        for sep, (name, suffix) in _SEPARATORS.items():
            if sep != delimiter and sep in header[0]:
                return (f" (one column: the header has no {_SEPARATORS[delimiter][0]} but a "
                        f"{name}; is the file {name}-separated? name it {suffix})")
    return ""


def _load_delimited(p, text: str, label, delimiter: str, quoted: bool, kind: str):
    """The reader of :func:`load_tsv`/:func:`load_csv`; ``label=None``: texts only."""
    content = read_text(p)
    # csv's default limit (128 KiB per field) would refuse a long text that load_jsonl and
    # Model.predict accept; the whole file is in memory already, so no field can exceed it.
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, min(len(content) + 1, 2**31 - 1)))
    reader = csv.reader(
        io.StringIO(content, newline=""),
        delimiter=delimiter,
        quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE,
        strict=True,  # an unclosed quote is an error, not the rest of the file
    )

    def where(first: int) -> str:
        last = reader.line_num
        return f"line {first}" if first >= last else f"lines {first}-{last}"

    def blank(row) -> bool:
        return not row or (len(row) == 1 and not row[0].strip())

    header = None
    texts: List[str] = []
    labels: List[str] = []
    line = 1  # first physical line of the next record
    try:
        for row in reader:
            start, line = line, reader.line_num + 1
            if blank(row):
                continue
            if header is None:
                header = [h.strip() for h in row]
                cols = []
                for name, what in ((text, "text"), (label, "label")):
                    if name is None:
                        cols.append(None)
                        continue
                    if header.count(name) == 0:
                        raise ValueError(
                            f"{p}: no {what} column {name!r}; the header ({where(start)}) "
                            f"has columns {header}{_separator_hint(header, delimiter)}"
                        )
                    if header.count(name) > 1:
                        raise ValueError(
                            f"{p}: column {name!r} appears {header.count(name)} times "
                            f"in the header ({where(start)})"
                        )
                    cols.append(header.index(name))
                ti, li = cols
                continue
            if len(row) != len(header):
                raise ValueError(
                    f"{p}: {where(start)}: expected {len(header)} "
                    f"field{'s' if len(header) != 1 else ''} as in the header, found {len(row)}"
                )
            texts.append(row[ti])
            if li is None:
                continue
            lab = row[li].strip()
            if lab == header[li] and [h.strip() for h in row] == header:
                raise ValueError(f"{p}: {where(start)} repeats the header row (two files "
                                 "joined?): its label would be a class of its own")
            if not lab:
                raise ValueError(f"{p}: {where(start)}: blank label")
            labels.append(lab)
    except csv.Error as exc:
        raise ValueError(f"{p}: {where(line)}: malformed {kind}: {exc}") from None
    finally:
        csv.field_size_limit(limit)
    if header is None:
        wanted = f"the columns {text!r} and {label!r}" if label is not None else \
            f"the column {text!r}"
        raise ValueError(f"{p}: empty file; expected a header row naming {wanted}")
    if not texts:
        raise ValueError(f"{p}: no data rows, only a header")
    return texts, None if label is None else _labels_array(labels)


def load_tsv(path: PathLike, text: str = "text", label: str = "label", *, quoted: bool = False):
    """Read a tab-separated file with a header row.

    The project's data files look like this (``label<TAB>text``, 1 = positive)::

        label	text
        1	will warm your heart without making you feel guilty about it .

    Parameters
    ----------
    path : str or os.PathLike
        The file, UTF-8 (an initial byte order mark is skipped).
    text, label : str, optional
        Names of the text and label columns in the header row (surrounding
        whitespace in the header is ignored). Other columns are ignored.
    quoted : bool, optional
        False (default): a double quote is an ordinary character, as in the
        project's files, where sentences may start with ``"``. True: fields
        may be quoted as in CSV (``"a<TAB>b"``, ``""`` for a quote), as the
        ``csv`` module does.

    Fields may be of any length: ``csv``'s default limit of 131,072 characters per field is
    lifted while the file is read (and restored afterwards), so a long text reads as it does
    from JSON Lines.

    Returns
    -------
    texts : list of str, length n
        The texts, verbatim; a blank text is an empty string.
    labels : ndarray, shape (n,)
        int64 if every label is an integer (after stripping whitespace),
        else str (dtype ``<U``).

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Not UTF-8, empty, no such column, a row with a different number of
        fields than the header, a blank label, no data rows. The message
        names the file and the line. Blank lines are skipped.
    """
    _check_columns(text, label)
    return _load_delimited(as_path(path), text, label, "\t", quoted, "TSV")


#: How each suffix's file is read: ``reader(path, text, label)``, ``label=None`` for texts only
#: (:func:`load_texts`); the public loaders check their column arguments first.
_READERS = {
    ".tsv": lambda p, text, label: _load_delimited(p, text, label, "\t", False, "TSV"),
    ".csv": lambda p, text, label: _load_delimited(p, text, label, ",", True, "CSV"),
}


def load_csv(path: PathLike, text: str = "text", label: str = "label"):
    """Read a comma-separated file with a header row.

    Fields may be quoted (``"a, b"``, ``""`` for a quote, line breaks inside
    quotes), as the ``csv`` module's default dialect reads them.

    Parameters
    ----------
    path : str or os.PathLike
        The file, UTF-8 (an initial byte order mark is skipped).
    text, label : str, optional
        Names of the text and label columns in the header row.

    Returns
    -------
    texts : list of str, length n
    labels : ndarray, shape (n,)
        int64 if every label is an integer, else str.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`load_tsv`.
    """
    _check_columns(text, label)
    return _READERS[".csv"](as_path(path), text, label)


_JSON_TYPES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}


def _json_type(value) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def load_jsonl(path: PathLike, text: str = "text", label: str = "label"):
    """Read a JSON Lines file: one JSON object per line.

    Example line: ``{"text": "this is good", "label": 1}``. Blank lines are
    skipped; other keys are ignored.

    Parameters
    ----------
    path : str or os.PathLike
        The file, UTF-8 (an initial byte order mark is skipped).
    text, label : str, optional
        The keys of the text (a JSON string) and of the label (a JSON integer
        or string) in each object.

    Returns
    -------
    texts : list of str, length n
    labels : ndarray, shape (n,)
        int64 if every label is an integer or a string holding one, else str.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Not UTF-8, invalid JSON, a line that is not an object, a missing key,
        a text that is not a string, a label that is not an integer or a
        non-blank string, no data. The message names the file and the line.
    """
    _check_columns(text, label)
    return _load_jsonl(as_path(path), text, label)


def _load_jsonl(p, text: str, label):
    """The reader of :func:`load_jsonl`; ``label=None``: texts only."""
    content = read_text(p)
    texts: List[str] = []
    labels: List[str] = []
    # split on "\n" only: JSON strings may hold a raw U+2028 or U+0085,
    # which str.splitlines would treat as line breaks.
    for lineno, line in enumerate(content.split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{p}: line {lineno}: invalid JSON ({exc.msg} at column {exc.colno})"
            ) from None
        if not isinstance(obj, dict):
            raise ValueError(
                f"{p}: line {lineno}: expected a JSON object, got {_json_type(obj)} "
                "(JSON Lines holds one object per line)"
            )
        for key in (text, label):
            if key is not None and key not in obj:
                raise ValueError(
                    f"{p}: line {lineno}: no key {key!r}; the object has keys {list(obj)}"
                )
        t = obj[text]
        if not isinstance(t, str):
            raise ValueError(
                f"{p}: line {lineno}: {text!r} must be a string, got {_json_type(t)}"
            )
        texts.append(t)
        if label is None:
            continue
        lab = obj[label]
        if isinstance(lab, int) and not isinstance(lab, bool):
            lab = str(lab)
        elif isinstance(lab, str):
            lab = lab.strip()
            if not lab:
                raise ValueError(f"{p}: line {lineno}: blank label")
        else:
            raise ValueError(
                f"{p}: line {lineno}: {label!r} must be an integer or a string, "
                f"got {_json_type(lab)}"
            )
        labels.append(lab)
    if not texts:
        raise ValueError(f"{p}: no data (the file has no JSON objects)")
    return texts, None if label is None else _labels_array(labels)


_READERS[".jsonl"] = _READERS[".ndjson"] = _READERS[".json"] = _load_jsonl


_LOADERS = {
    ".tsv": load_tsv,
    ".csv": load_csv,
    ".jsonl": load_jsonl,
    ".ndjson": load_jsonl,
    ".json": load_jsonl,
}


def load(path: PathLike, text: str = "text", label: str = "label"):
    """Read a labelled text file, choosing the reader by the file's suffix.

    ``.tsv`` -> :func:`load_tsv`, ``.csv`` -> :func:`load_csv`, ``.jsonl``,
    ``.ndjson`` and ``.json`` (which must hold JSON Lines, one object per
    line) -> :func:`load_jsonl`. The suffix is case-insensitive.

    Parameters
    ----------
    path : str or os.PathLike
    text, label : str, optional
        Column names (keys for JSON Lines).

    Returns
    -------
    texts : list of str, length n
    labels : ndarray, shape (n,)
        int64 or str.

    Raises
    ------
    ValueError
        Unknown suffix (the message lists the supported ones), or any error of
        the reader.
    FileNotFoundError
        No such file.
    """
    p = as_path(path)
    return _LOADERS[_suffix(p)](p, text=text, label=label)


def is_table(path) -> bool:
    """True when :func:`load` reads ``path`` (its suffix is one of the data-file suffixes)."""
    return as_path(path).suffix.lower() in _LOADERS


def _suffix(p):
    """``p``'s lower-cased suffix; ``ValueError`` listing the supported ones unless it is one
    (or naming a directory as one, whatever its name)."""
    if p.is_dir():
        raise ValueError(f"{p}: is a directory, not a data file")
    suffix = p.suffix.lower()
    if suffix not in _LOADERS:
        raise ValueError(
            f"{p}: unknown file type {suffix or '(no suffix)'!s}; supported: "
            f"{', '.join(_LOADERS)} (.json must hold JSON Lines)"
        )
    return suffix


def load_texts(path: PathLike, text: str = "text") -> List[str]:
    """The texts of a data file without labels: its ``text`` column, read as :func:`load` reads it.

    For files to predict: a ``.tsv``/``.csv``/``.jsonl`` with a header (or keys) naming the text
    column; a label column may be present and is ignored.

    Returns
    -------
    texts : list of str

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`load`, except that no label column is needed.
    TypeError
        ``path`` not a str or os.PathLike, or ``text`` not a str.
    """
    p = as_path(path)
    if not isinstance(text, str):
        raise TypeError(f"text must be a str (a column name), got {type(text).__name__}")
    return _READERS[_suffix(p)](p, text, None)[0]


# --------------------------------------------------------------------------
# Generated corpus
# --------------------------------------------------------------------------

# (present, past) subject + copula
_SUBJECTS = (
    ("i am", "i was"),
    ("this is", "this was"),
    ("the movie is", "the movie was"),
    ("we are", "we were"),
    ("it is", "it was"),
    ("the food is", "the food was"),
)
_INTENSIFIERS = ("very", "really", "so", "extremely", "quite")
_POSITIVE = ("good", "happy", "great", "nice", "excellent",
             "wonderful", "pleasant", "lovely", "amazing", "delightful")
_NEGATIVE = ("bad", "sad", "awful", "terrible", "horrible",
             "unhappy", "poor", "boring", "dull", "miserable")
_NEGATIONS = ("", "not", "never", "not at all")
_CONJUNCTIONS = ("and", "or", "but")
_TIMES = (("today", "now", "right now", "this time"),         # present tense
          ("earlier", "yesterday", "at first", "this time"))  # past tense

# Probabilities of the optional parts.
_P_NEGATION = (0.5, 0.25, 0.1, 0.15)  # none, not, never, not at all
_P_CONJUNCTION = (0.35, 0.2, 0.45)    # and, or, but
_P_SUBJECT_AGAIN = 0.5                # a later clause repeats a subject
_P_INTENSIFIER = 0.4                  # unless the negation is never / not at all
_P_CONTRAST = 0.2                     # "good not bad", unless negated
_P_TIME = 0.4

_MAX_SAMPLES = 10**7


def corpus_words() -> List[str]:
    """The 51 words :func:`make_corpus` uses, sorted.

    Returns
    -------
    list of str
    """
    words = set()
    for group in (_SUBJECTS, _TIMES):
        for pair in group:
            for phrase in pair:
                words.update(phrase.split())
    for group in (_INTENSIFIERS, _POSITIVE, _NEGATIVE, _NEGATIONS, _CONJUNCTIONS):
        for phrase in group:
            words.update(phrase.split())
    return sorted(words)


def _table(strings, shape=None) -> np.ndarray:
    """Object array of the strings, each with a trailing space (none for "")."""
    arr = np.array([s + " " if s else "" for s in strings], dtype=object)
    return arr if shape is None else arr.reshape(shape)


def make_corpus(n_samples: int = 1000, *, seed=None, max_clauses: int = 2,
                max_intensifiers: int = 1):
    """Generate a labelled corpus of short English sentiment sentences.

    Grammar (each optional part drawn independently)::

        sentence := clause (conjunction clause){0..max_clauses-1} [time]
        clause   := [subject copula] [negation] [intensifier{1..max_intensifiers}]
                    adjective [contrast]
        contrast := "not" adjective-of-the-opposite-polarity

    - subject copula: "i am", "this is", "the movie is", "we are", "it is",
      "the food is", or their past ("i was", "we were", ...), one tense per
      sentence. The first clause always has one, later clauses half of the
      time ("i am good and happy", "the movie was bad but the food was great").
    - negation: none (1/2), "not" (1/4), "never" (1/10), "not at all" (3/20).
    - intensifier (probability 0.4, only after no negation or "not"): "very",
      "really", "so", "extremely", "quite"; 2 or more are "very very ...".
    - adjective: 10 positive ("good", "happy", "great", "nice", "excellent",
      "wonderful", "pleasant", "lovely", "amazing", "delightful") and 10
      negative ("bad", "sad", "awful", "terrible", "horrible", "unhappy",
      "poor", "boring", "dull", "miserable").
    - contrast (probability 0.2, only without negation): "good not bad",
      "bad not good": the second adjective has the opposite polarity.
    - conjunction: "and" (0.35), "or" (0.2), "but" (0.45).
    - time (probability 0.4): "today", "now", "right now", "this time" in
      the present, "earlier", "yesterday", "at first", "this time" in the
      past.

    Labels (1 = positive, 0 = negative) follow deterministically:

    1. A clause's polarity is its adjective's, flipped by a negation ("not
       bad", "not at all unhappy" and "never sad" are positive; "not very
       good" is negative). Intensifiers, subjects and the contrast part
       ("good not bad" is as positive as "good") leave it unchanged.
    2. Clauses joined by "and" or "or" have the same polarity; clauses
       joined by "but" have opposite polarities.
    3. The label is the polarity of the last clause (the one after the last
       "but", if any). Time phrases never change it.

    Parameters
    ----------
    n_samples : int, optional
        Number of sentences, 1 .. 10**7 (default 1000).
    seed : None, int or numpy.random.Generator, optional
        Seed of ``numpy.random.default_rng``; the same int gives the same
        corpus. A Generator is used (and advanced) as is.
    max_clauses : int, optional
        Clauses per sentence are uniform in 1 .. max_clauses (1..20, default 2).
    max_intensifiers : int, optional
        Intensifiers per adjective, when present, are uniform in
        1 .. max_intensifiers (0..5, default 1; 0: none).

    Returns
    -------
    texts : list of str, length n_samples
        Lower-case words separated by single spaces, no punctuation.
    labels : ndarray of int64, shape (n_samples,)
        0 or 1, each with probability 1/2.

    Notes
    -----
    With the defaults, sentences have 7.5 words on average (3 to 17); a
    clause after the first adds about 4.5 words, so the mean is about
    5.2 + 2.2 * (max_clauses - 1); each allowed extra intensifier adds about
    0.2 per clause. The vocabulary is :func:`corpus_words` (51 words). About
    half of 10**6 default sentences are distinct; short ones ("i am good")
    repeat often. Generation is vectorised: about 1 s per 10**6 sentences.

    Examples
    --------
    >>> texts, labels = make_corpus(3, seed=1)
    >>> len(texts), labels.dtype
    (3, dtype('int64'))
    """
    n = check_int("n_samples", n_samples, 1, _MAX_SAMPLES)
    n_cl = check_int("max_clauses", max_clauses, 1, 20)
    n_int = check_int("max_intensifiers", max_intensifiers, 0, 5)
    rng = _as_rng(seed)

    subjects = _table([s for pair in _SUBJECTS for s in pair], (len(_SUBJECTS), 2))
    negations = _table(_NEGATIONS)
    # intensifiers[count, word]: "", "really ", "very very ", ...
    intensifiers = np.array(
        [[("" if c == 0 else (w + " " if c == 1 else "very " * c)) for w in _INTENSIFIERS]
         for c in range(n_int + 1)],
        dtype=object,
    )
    adjectives = np.stack([_table(_NEGATIVE), _table(_POSITIVE)])  # [polarity, word]
    contrasts = np.stack([_table("not " + a for a in _NEGATIVE),
                          _table("not " + a for a in _POSITIVE)])
    conjunctions = _table(_CONJUNCTIONS)
    times = _table([t for pair in zip(*_TIMES) for t in pair], (len(_TIMES[0]), 2))

    labels = rng.integers(0, 2, size=n)
    clauses = rng.integers(1, n_cl + 1, size=n)
    tense = rng.integers(0, 2, size=n)
    conj = [None] + [rng.choice(3, size=n, p=_P_CONJUNCTION) for _ in range(1, n_cl)]

    # Clause polarities, from the last clause (= label) backwards: "but"
    # flips, "and"/"or" keep. Clauses past the sentence's end get the label.
    polarity = [None] * n_cl
    polarity[n_cl - 1] = labels
    for j in range(n_cl - 2, -1, -1):
        polarity[j] = np.where(j < clauses - 1, polarity[j + 1] ^ (conj[j + 1] == 2), labels)

    out = np.full(n, "", dtype=object)
    for j in range(n_cl):
        negation = rng.choice(len(_NEGATIONS), size=n, p=_P_NEGATION)
        adj_polarity = polarity[j] ^ (negation > 0)
        adjective = adjectives[adj_polarity, rng.integers(0, len(_POSITIVE), size=n)]
        if n_int:
            count = rng.integers(1, n_int + 1, size=n)
            count[(rng.random(n) >= _P_INTENSIFIER) | (negation >= 2)] = 0
            intensifier = intensifiers[count, rng.integers(0, len(_INTENSIFIERS), size=n)]
        else:
            intensifier = ""
        contrast = contrasts[1 - adj_polarity, rng.integers(0, len(_POSITIVE), size=n)]
        contrast[(rng.random(n) >= _P_CONTRAST) | (negation > 0)] = ""
        subject = subjects[rng.integers(0, len(_SUBJECTS), size=n), tense]
        clause = negations[negation] + intensifier + adjective + contrast
        if j == 0:
            out = subject + clause
        else:
            subject[rng.random(n) >= _P_SUBJECT_AGAIN] = ""
            clause = conjunctions[conj[j]] + subject + clause
            out = np.where(j < clauses, out + clause, out)
    time = times[rng.integers(0, len(_TIMES[0]), size=n), tense]
    time[rng.random(n) >= _P_TIME] = ""
    out = out + time
    texts = [s[:-1] for s in out.tolist()]  # drop the trailing space
    return texts, labels.astype(np.int64)


def load_demo(n_train: int = 4000, n_test: int = 500, seed=0, *, max_clauses: int = 2,
              max_intensifiers: int = 1):
    """Train and test sets drawn from :func:`make_corpus`, disjoint by text.

    The test set is a plain draw of ``n_test`` sentences (it may repeat a
    sentence, as a random draw does). The training set is drawn from the
    same generator, skipping every sentence whose text is in the test set, so
    that test accuracy measures generalisation, not memorisation.

    Parameters
    ----------
    n_train, n_test : int, optional
        Sizes, 1 .. 10**7 (defaults 4000 and 500: with 4,000 training sentences
        ``fastrnn.Model()``'s defaults reach >= 99% test accuracy on every seed tried).
    seed : None, int or numpy.random.Generator, optional
        As in :func:`make_corpus` (default 0: always the same data).
    max_clauses, max_intensifiers : int, optional
        Passed to :func:`make_corpus`.

    Returns
    -------
    (train_texts, train_labels), (test_texts, test_labels)
        Lists of str and int64 arrays of 0/1, as :func:`make_corpus` returns.

    Raises
    ------
    ValueError
        When the test set covers so much of the generator's output that
        ``n_train`` other sentences cannot be drawn (a large ``n_test`` with
        ``max_clauses=1`` and no intensifiers, say).
    """
    n_train = check_int("n_train", n_train, 1, _MAX_SAMPLES)
    n_test = check_int("n_test", n_test, 1, _MAX_SAMPLES)
    rng = _as_rng(seed)
    kw = dict(max_clauses=max_clauses, max_intensifiers=max_intensifiers)
    test_texts, test_labels = make_corpus(n_test, seed=rng, **kw)
    held_out = set(test_texts)
    train_texts: List[str] = []
    train_labels: List[np.ndarray] = []
    batch = max(1000, n_train + n_train // 2)
    for _ in range(20):
        texts, labels = make_corpus(batch, seed=rng, **kw)
        keep = np.fromiter((t not in held_out for t in texts), dtype=bool, count=batch)
        idx = np.flatnonzero(keep)[: n_train - len(train_texts)]
        train_texts.extend(texts[i] for i in idx.tolist())
        train_labels.append(labels[idx])
        if len(train_texts) == n_train:
            break
    else:
        raise ValueError(
            f"could not draw {n_train} training sentences outside the {n_test} test "
            f"sentences ({len(train_texts)} found in {20 * batch} draws): lower n_test "
            "or raise max_clauses / max_intensifiers"
        )
    return (train_texts, np.concatenate(train_labels)), (test_texts, test_labels)
