"""Tests of fastrnn.datasets: file loaders and the generated corpus."""

import os
from collections import Counter

import numpy as np
import pytest

from fastrnn.datasets import (
    corpus_words,
    load,
    load_csv,
    load_demo,
    load_jsonl,
    load_texts,
    load_tsv,
    make_corpus,
)

def write(tmp_path, name, content, encoding="utf-8"):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_bytes(content.encode(encoding))
    return path


# ------------------------------------------------------------------------ TSV


def test_load_tsv_project_format(tmp_path):
    path = write(
        tmp_path,
        "d.tsv",
        'label\ttext\n1\twill warm your heart .\n0\t" bad " is the word\n1\t\n0\tit\'s "ok", really\n',
    )
    texts, labels = load_tsv(path)
    assert texts == ["will warm your heart .", '" bad " is the word', "", 'it\'s "ok", really']
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, [1, 0, 1, 0])
    # str path works too
    assert load_tsv(str(path))[0] == texts


def test_load_tsv_columns_crlf_blank_lines(tmp_path):
    path = write(tmp_path, "d.tsv",
                 "id\t text \tscore\tlabel\r\n7\tgood\t0.5\tpos\r\n\r\n8\tbad\t0.1\tneg\r\n\r\n")
    texts, labels = load_tsv(path)
    assert texts == ["good", "bad"]
    assert labels.dtype.kind == "U"
    assert labels.tolist() == ["pos", "neg"]
    texts, labels = load_tsv(path, text="id", label="score")
    assert texts == ["7", "8"] and labels.tolist() == ["0.5", "0.1"]


def test_load_tsv_quoted(tmp_path):
    path = write(tmp_path, "d.tsv", 'text\tlabel\n"a\tb ""c"""\t1\n"two\nlines"\t0\n')
    texts, labels = load_tsv(path, quoted=True)
    assert texts == ['a\tb "c"', "two\nlines"]
    np.testing.assert_array_equal(labels, [1, 0])
    # unquoted (default): quotes are plain characters, so the tab splits
    with pytest.raises(ValueError, match=r"d\.tsv: line 2: expected 2 fields as in the header, found 3"):
        load_tsv(path)


@pytest.mark.parametrize(
    "raw, expected",
    [
        (["1", "0", "1"], ([1, 0, 1], "int64")),
        ([" 1 ", "+2", "-3"], ([1, 2, -3], "int64")),
        (["1", "pos", "0"], (["1", "pos", "0"], "str")),
        (["1.0", "0"], (["1.0", "0"], "str")),
        (["1_0", "0"], (["1_0", "0"], "str")),
        (["99999999999999999999", "0"], (["99999999999999999999", "0"], "str")),
        (["\u0661", "0"], (["\u0661", "0"], "str")),  # Arabic-Indic digit: not ASCII
    ],
)
def test_label_types(tmp_path, raw, expected):
    path = write(tmp_path, "d.tsv", "label\ttext\n" + "".join(f"{r}\tt\n" for r in raw))
    values, kind = expected
    labels = load_tsv(path)[1]
    if kind == "int64":
        assert labels.dtype == np.int64
    else:
        assert labels.dtype.kind == "U"
    assert labels.tolist() == values


def test_bom_is_skipped(tmp_path):
    path = write(tmp_path, "d.tsv", b"\xef\xbb\xbflabel\ttext\n1\tcaf\xc3\xa9\n")
    texts, labels = load_tsv(path)
    assert texts == ["café"] and labels.tolist() == [1]
    path = write(tmp_path, "d.jsonl", b'\xef\xbb\xbf{"text": "x", "label": 0}\n')
    assert load_jsonl(path)[0] == ["x"]
    path = write(tmp_path, "d.csv", b"\xef\xbb\xbftext,label\nx,1\n")
    assert load_csv(path)[0] == ["x"]


# ------------------------------------------------------------------------ CSV


def test_load_csv(tmp_path):
    path = write(
        tmp_path,
        "d.csv",
        'text,label\n"hello, world",1\n"she said ""hi""",0\n"multi\nline",1\nplain,0\n,1\n',
    )
    texts, labels = load_csv(path)
    assert texts == ["hello, world", 'she said "hi"', "multi\nline", "plain", ""]
    np.testing.assert_array_equal(labels, [1, 0, 1, 0, 1])
    assert labels.dtype == np.int64


def test_csv_line_numbers_after_multiline_record(tmp_path):
    path = write(tmp_path, "d.csv", 'text,label\n"a\nb",1\nc,1,extra\n')
    with pytest.raises(ValueError, match=r"d\.csv: line 4: expected 2 fields as in the header, found 3"):
        load_csv(path)
    path = write(tmp_path, "e.csv", 'text,label\n"a\nb",\n')
    with pytest.raises(ValueError, match=r"e\.csv: lines 2-3: blank label"):
        load_csv(path)


def test_csv_malformed_quoting(tmp_path):
    path = write(tmp_path, "d.csv", 'text,label\nok,1\n"never closed,1\nx,0\n')
    with pytest.raises(ValueError, match=r"d\.csv: lines 3-4: malformed CSV: unexpected end of data"):
        load_csv(path)
    path = write(tmp_path, "e.csv", 'text,label\n"ab"c,1\n')
    with pytest.raises(ValueError, match=r"e\.csv: line 2: malformed CSV"):
        load_csv(path)


# ---------------------------------------------------------------------- JSONL


def test_load_jsonl(tmp_path):
    path = write(
        tmp_path,
        "d.jsonl",
        '{"text": "good \\u2028 movie", "label": 1, "id": 5}\n'
        "\n"
        '{"label": "0", "text": ""}\r\n'
        '  {"text": "Москва", "label": 1}  \n',
    )
    texts, labels = load_jsonl(path)
    assert texts == ["good \u2028 movie", "", "Москва"]
    assert labels.dtype == np.int64 and labels.tolist() == [1, 0, 1]
    path = write(tmp_path, "s.jsonl", '{"t": "a", "y": "pos"}\n{"t": "b", "y": 3}\n')
    texts, labels = load_jsonl(path, text="t", label="y")
    assert texts == ["a", "b"] and labels.tolist() == ["pos", "3"]


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"text": "a", "label": 1}\n{"text": "b", "label": 1,}\n',
         r"line 2: invalid JSON \(.* at column \d+\)"),
        ('{"text": "a", "label": 1}\n\n{"text": "b"\n', r"line 3: invalid JSON"),
        ('[{"text": "a", "label": 1}]\n', r"line 1: expected a JSON object, got an array"),
        ('"text"\n', r"line 1: expected a JSON object, got a string"),
        ('{"text": "a", "label": 1}\n{"text": "b"}\n',
         r"line 2: no key 'label'; the object has keys \['text'\]"),
        ('{"txt": "a", "label": 1}\n', r"line 1: no key 'text'"),
        ('{"text": null, "label": 1}\n', r"line 1: 'text' must be a string, got null"),
        ('{"text": ["a"], "label": 1}\n', r"line 1: 'text' must be a string, got an array"),
        ('{"text": "a", "label": 1.5}\n', r"line 1: 'label' must be an integer or a string, got a number"),
        ('{"text": "a", "label": true}\n', r"line 1: 'label' must be an integer or a string, got a boolean"),
        ('{"text": "a", "label": 1}\n{"text": "a", "label": " "}\n', r"line 2: blank label"),
        ("\n  \n", r"no data \(the file has no JSON objects\)"),
        ("", r"no data"),
    ],
)
def test_jsonl_errors(tmp_path, content, message):
    path = write(tmp_path, "bad.jsonl", content)
    with pytest.raises(ValueError, match=r"bad\.jsonl: " + message):
        load_jsonl(path)


# --------------------------------------------------------------- load(), errors


def test_load_dispatch(tmp_path):
    tsv = write(tmp_path, "a.TSV", "label\ttext\n1\tx\n")
    csv_ = write(tmp_path, "a.csv", "text,label\ny,0\n")
    for name in ("a.jsonl", "a.json", "a.ndjson"):
        write(tmp_path, name, '{"text": "z", "label": 1}\n')
        assert load(tmp_path / name)[0] == ["z"]
    assert load(tsv)[0] == ["x"]
    assert load(str(csv_))[0] == ["y"]
    assert load(csv_, text="label", label="text")[0] == ["0"]
    with pytest.raises(ValueError, match=r"a\.txt: unknown file type \.txt; supported: \.tsv, \.csv, \.jsonl"):
        load(tmp_path / "a.txt")
    with pytest.raises(ValueError, match=r"unknown file type \(no suffix\)"):
        load(tmp_path / "data")


def test_load_texts_reads_the_text_column_with_or_without_labels(tmp_path):
    assert load_texts(write(tmp_path, "a.tsv", "label\ttext\n1\tgood film\n0\t\"so\" bad\n")) \
        == ["good film", '"so" bad']
    assert load_texts(write(tmp_path, "b.tsv", "text\n\ngood film\n")) == ["good film"]
    assert load_texts(write(tmp_path, "c.CSV", 'id,review\n1,"a, b"\n'), "review") == ["a, b"]
    assert load_texts(write(tmp_path, "d.jsonl", '{"text": "x"}\n{"text": "y", "label": null}\n')) \
        == ["x", "y"]
    texts, _ = load(write(tmp_path, "e.tsv", "label\ttext\n1\tx\n0\ty\n"))
    assert load_texts(tmp_path / "e.tsv") == texts


@pytest.mark.parametrize("name, content, kwargs, message", [
    ("a.tsv", "label\ttext\n1\tx\n", dict(text="review"),
     r"a\.tsv: no text column 'review'; the header \(line 1\) has columns \['label', 'text'\]"),
    ("a.tsv", "", {}, r"a\.tsv: empty file; expected a header row naming the column 'text'$"),
    ("a.tsv", "text\n", {}, r"a\.tsv: no data rows, only a header"),
    ("a.tsv", "text\tlabel\nx\n", {}, r"a\.tsv: line 2: expected 2 fields"),
    ("a.jsonl", '{"label": 1}\n', {}, r"a\.jsonl: line 1: no key 'text'"),
    ("a.jsonl", '{"text": 3}\n', {}, r"a\.jsonl: line 1: 'text' must be a string, got an integer"),
    ("a.txt", "x\n", {}, r"a\.txt: unknown file type \.txt"),
])
def test_load_texts_errors(tmp_path, name, content, kwargs, message):
    path = write(tmp_path, name, content)
    with pytest.raises(ValueError, match=message):
        load_texts(path, **kwargs)


def test_load_texts_argument_errors(tmp_path):
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got int"):
        load_texts(3)
    with pytest.raises(TypeError, match=r"text must be a str \(a column name\), got NoneType"):
        load_texts(write(tmp_path, "a.tsv", "text\nx\n"), None)
    with pytest.raises(FileNotFoundError, match=r"nope\.csv: no such file"):
        load_texts(tmp_path / "nope.csv")


@pytest.mark.parametrize("loader", [load_tsv, load_csv, load_jsonl, load])
def test_missing_file(tmp_path, loader):
    path = tmp_path / "nope.tsv"
    with pytest.raises(FileNotFoundError, match=r"nope\.tsv: no such file"):
        loader(path)


def test_directory(tmp_path):
    (tmp_path / "dir.tsv").mkdir()
    with pytest.raises(ValueError, match=r"dir\.tsv: is a directory"):
        load(tmp_path / "dir.tsv")


def test_not_utf8(tmp_path):
    path = write(tmp_path, "l1.tsv", "label\ttext\n1\tok\n0\tcafé\n", encoding="latin-1")
    with pytest.raises(ValueError, match=r"l1\.tsv: line 3: not valid UTF-8 \(byte 0xe9\)"):
        load_tsv(path)
    path = write(tmp_path, "l1.jsonl", '{"text": "café", "label": 1}\n', encoding="latin-1")
    with pytest.raises(ValueError, match=r"l1\.jsonl: line 1: not valid UTF-8"):
        load_jsonl(path)
    path = write(tmp_path, "u16.csv", "text,label\nx,1\n", encoding="utf-16")
    with pytest.raises(ValueError, match=r"u16\.csv: the file is UTF-16; save it as UTF-8"):
        load_csv(path)


@pytest.mark.parametrize(
    "content, kwargs, message",
    [
        ("label\ttext\n1\tx\n", dict(text="txt"),
         r"no text column 'txt'; the header \(line 1\) has columns \['label', 'text'\]"),
        ("label\ttext\n1\tx\n", dict(label="y"), r"no label column 'y'"),
        ("label,text\n1,x\n", {}, r"no text column 'text'; the header \(line 1\) has columns "
         r"\['label,text'\] \(one column: the header has no tab but a comma; is the file "
         r"comma-separated\? name it \.csv\)"),
        ("\n\nlabel\ttext\n1\tx\n", dict(label="y"), r"no label column .y.; the header \(line 3\)"),
        ("label\ttext\ttext\n1\tx\ty\n", {}, r"column 'text' appears 2 times in the header"),
        ("label\ttext\n1\tx\n0\ty\tz\n", {}, r"line 3: expected 2 fields as in the header, found 3"),
        ("label\ttext\n1\n", {}, r"line 2: expected 2 fields as in the header, found 1"),
        ("label\ttext\n1\tx\n\tblank label\n", {}, r"line 3: blank label"),
        ("label\ttext\n  \tx\n", {}, r"line 2: blank label"),
        ("label\ttext\n", {}, r"no data rows, only a header"),
        ("label\ttext\n\n\n", {}, r"no data rows, only a header"),
        ("", {}, r"empty file; expected a header row naming the columns 'text' and 'label'"),
        ("\n \n", {}, r"empty file"),
    ],
)
def test_tsv_errors(tmp_path, content, kwargs, message):
    path = write(tmp_path, "bad.tsv", content)
    with pytest.raises(ValueError, match=r"bad\.tsv: " + message):
        load_tsv(path, **kwargs)


def test_loader_argument_errors(tmp_path):
    path = write(tmp_path, "d.tsv", "label\ttext\n1\tx\n")
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got int"):
        load_tsv(3)
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got bytes"):
        load(b"d.tsv")
    with pytest.raises(TypeError, match=r"text must be a str \(a column name\), got int"):
        load_tsv(path, text=1)
    with pytest.raises(TypeError, match=r"label must be a str \(a column name\), got NoneType"):
        load_jsonl(path, label=None)
    with pytest.raises(ValueError, match="text and label must name different columns, both are 'text'"):
        load_csv(path, label="text")


# ------------------------------------------------------------ the shared data


@pytest.mark.shared
def test_shared_mr_train(shared_data):
    path = shared_data / "mr" / "train.tsv"
    texts, labels = load_tsv(path)
    assert len(texts) == len(labels) == 9596
    assert labels.dtype == np.int64 and set(labels.tolist()) == {0, 1}
    assert Counter(labels.tolist()) == {0: 4798, 1: 4798}
    # verbatim: the sentences that start with a double quote keep it
    raw = path.read_text(encoding="utf-8").splitlines()[1:]
    assert texts == [line.split("\t", 1)[1] for line in raw]
    assert sum(t.startswith('"') for t in texts) > 0
    assert load(path)[0] == texts


@pytest.mark.shared
def test_shared_all_files_verbatim(shared_data):
    """Every shared TSV loads with one row per line, texts verbatim, labels 0/1."""
    paths = sorted(shared_data.glob("*/*.tsv"))
    assert paths
    for path in paths:
        texts, labels = load(path)
        raw = path.read_text(encoding="utf-8").splitlines()
        assert raw[0] == "label\ttext", path
        assert texts == [line.split("\t", 1)[1] for line in raw[1:]], path
        assert labels.tolist() == [int(line.split("\t", 1)[0]) for line in raw[1:]], path
        assert set(labels.tolist()) == {0, 1}, path


@pytest.mark.shared
def test_shared_tutorial_vocabulary(shared_data):
    from fastrnn.vocab import Vocabulary

    texts, labels = load_tsv(shared_data / "tutorial" / "train.tsv")
    assert len(texts) == 58 and set(labels.tolist()) == {0, 1}
    vocab = Vocabulary().fit(texts)
    assert len(vocab) == 18 + 1  # 18 distinct words + <unk>
    tokens, offsets = vocab.encode(texts)
    assert offsets.shape == (59,) and offsets[-1] == tokens.size
    assert vocab.decode(tokens, offsets) == texts


# ------------------------------------------------------------ generated corpus

# An independent statement of make_corpus's grammar and label rules.
SUBJECTS = {"i": {"am", "was"}, "this": {"is", "was"}, "we": {"are", "were"},
            "it": {"is", "was"}, "the movie": {"is", "was"}, "the food": {"is", "was"}}
PRESENT = {"am", "is", "are"}
INTENSIFIERS = {"very", "really", "so", "extremely", "quite"}
POSITIVE = {"good", "happy", "great", "nice", "excellent", "wonderful", "pleasant",
            "lovely", "amazing", "delightful"}
NEGATIVE = {"bad", "sad", "awful", "terrible", "horrible", "unhappy", "poor", "boring",
            "dull", "miserable"}
CONJUNCTIONS = {"and", "or", "but"}
TIMES = {True: {"today", "now", "right now", "this time"},
         False: {"earlier", "yesterday", "at first", "this time"}}


class Parser:
    """Parse one generated sentence; return its label by the documented rules."""

    def __init__(self, text):
        self.w = text.split()
        self.i = 0
        self.features = Counter()

    def peek(self, k=0):
        return self.w[self.i + k] if self.i + k < len(self.w) else None

    def take(self, *expected):
        word = self.peek()
        assert word in expected, f"expected {expected}, got {word!r} in {self.w}"
        self.i += 1
        return word

    def subject(self):
        first = self.peek()
        if first == "the":
            self.take("the")
            first = "the " + self.take("movie", "food")
        elif first in SUBJECTS:
            self.take(first)
        else:
            return None
        return self.take(*SUBJECTS[first])

    def clause(self, first):
        copula = self.subject()
        if first:
            assert copula is not None, f"first clause without subject: {self.w}"
        negation = None
        if self.peek() == "not" and self.peek(1) == "at" and self.peek(2) == "all":
            self.i += 3
            negation = "not at all"
        elif self.peek() in ("not", "never"):
            negation = self.take("not", "never")
        n_intensifiers = 0
        while self.peek() in INTENSIFIERS:
            self.take(self.peek())
            n_intensifiers += 1
        if n_intensifiers:
            assert negation in (None, "not"), f"intensifier after {negation}: {self.w}"
            self.features["intensifier"] += 1
        adjective = self.take(*(POSITIVE | NEGATIVE))
        polarity = adjective in POSITIVE
        if self.peek() == "not" and self.peek(1) in POSITIVE | NEGATIVE:
            assert negation is None, f"contrast in a negated clause: {self.w}"
            self.i += 1
            other = self.take(*(POSITIVE | NEGATIVE))
            assert (other in POSITIVE) != polarity, f"contrast of the same polarity: {self.w}"
            self.features["contrast"] += 1
        if negation:
            self.features[negation] += 1
            polarity = not polarity
        return copula, polarity

    def label(self):
        copula, polarity = self.clause(first=True)
        present = copula in PRESENT
        while self.peek() in CONJUNCTIONS:
            conj = self.take(self.peek())
            self.features[conj] += 1
            copula, next_polarity = self.clause(first=False)
            if copula is not None:
                assert (copula in PRESENT) == present, f"tense changes: {self.w}"
            if conj == "but":
                assert next_polarity != polarity, f"'but' between same polarities: {self.w}"
            else:
                assert next_polarity == polarity, f"'{conj}' between opposite polarities: {self.w}"
            polarity = next_polarity
        rest = " ".join(self.w[self.i:])
        if rest:
            assert rest in TIMES[present], f"unexpected tail {rest!r}: {self.w}"
            self.features["time"] += 1
        return int(polarity)


def test_parser_on_hand_written_sentences():
    """The test's own rule checker, on sentences written by hand."""
    cases = {
        "i am not at all happy": 0,
        "this was good earlier": 1,
        "i am good not bad": 1,
        "i am bad not good": 0,
        "this is very sad": 0,
        "i am not bad": 1,
        "the movie was never boring": 1,
        "it is not very good": 0,
        "we are not unhappy": 1,
        "i am good and happy": 1,
        "this is not good and not happy": 0,
        "the movie was bad but the food was great yesterday": 1,
        "the movie was great but not at all good at first": 0,
        "i was sad but happy or good and lovely but dull this time": 0,
    }
    for text, label in cases.items():
        assert Parser(text).label() == label, text
    for text in ["i am good and sad", "i am good but happy", "good", "i am good tomorrow",
                 "i am good not happy", "i am never very good", "i am not good not bad",
                 "i am good and we were happy"]:
        with pytest.raises(AssertionError):
            Parser(text).label()


@pytest.mark.parametrize("kwargs", [{}, dict(max_clauses=4, max_intensifiers=3),
                                    dict(max_clauses=1, max_intensifiers=0)])
def test_corpus_labels_follow_the_rules(kwargs):
    texts, labels = make_corpus(2000, seed=7, **kwargs)
    features = Counter()
    for text, label in zip(texts, labels.tolist()):
        parser = Parser(text)
        assert parser.label() == label, text
        features.update(parser.features)
    # every rule is exercised
    expected = {"not", "never", "not at all", "contrast", "time"}
    if kwargs.get("max_intensifiers", 1):
        expected.add("intensifier")
    if kwargs.get("max_clauses", 2) > 1:
        expected |= CONJUNCTIONS
    assert set(features) == expected
    assert all(features[f] >= 20 for f in expected), features


def test_corpus_types_and_determinism():
    texts, labels = make_corpus(500, seed=3)
    assert isinstance(texts, list) and len(texts) == 500
    assert all(type(t) is str for t in texts)
    assert all(t == " ".join(t.split()) and t for t in texts)  # single spaces, no edges
    assert labels.dtype == np.int64 and labels.shape == (500,)
    assert set(labels.tolist()) == {0, 1}
    texts2, labels2 = make_corpus(500, seed=3)
    assert texts2 == texts and np.array_equal(labels2, labels)
    texts3, labels3 = make_corpus(500, seed=4)
    assert texts3 != texts
    gen_a, gen_b = np.random.default_rng(5), np.random.default_rng(5)
    assert make_corpus(50, seed=gen_a)[0] == make_corpus(50, seed=gen_b)[0]
    assert make_corpus(50, seed=gen_a)[0] != make_corpus(50, seed=5)[0]  # advanced
    assert make_corpus(50, seed=np.int64(5))[0] == make_corpus(50, seed=5)[0]
    assert len(make_corpus(1)[0]) == 1 and len(make_corpus(7, seed=None)[0]) == 7


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_corpus_balance(seed):
    labels = make_corpus(2000, seed=seed)[1]
    assert 0.4 <= labels.mean() <= 0.6


def test_corpus_vocabulary_and_length():
    texts, _ = make_corpus(20000, seed=0)
    words = Counter(w for t in texts for w in t.split())
    assert set(words) == set(corpus_words())
    assert len(corpus_words()) == 51
    assert corpus_words() == sorted(
        {"i", "am", "was", "this", "is", "the", "movie", "we", "are", "were", "it", "food",
         "not", "never", "at", "all", "and", "or", "but", "earlier", "today", "yesterday",
         "now", "right", "first", "time"} | INTENSIFIERS | POSITIVE | NEGATIVE)
    lengths = np.array([len(t.split()) for t in texts])
    assert 6.0 <= lengths.mean() <= 8.0
    assert lengths.min() >= 3


def test_corpus_knobs():
    def mean_length(**kw):
        return np.mean([len(t.split()) for t in make_corpus(5000, seed=1, **kw)[0]])

    one = make_corpus(3000, seed=1, max_clauses=1)[0]
    assert not any(set(t.split()) & CONJUNCTIONS for t in one)
    many = make_corpus(3000, seed=1, max_clauses=5)[0]
    assert max(sum(w in CONJUNCTIONS for w in t.split()) for t in many) == 4
    assert mean_length(max_clauses=1) < mean_length() < mean_length(max_clauses=3) < mean_length(max_clauses=6)
    none = make_corpus(3000, seed=1, max_intensifiers=0)[0]
    assert not any(set(t.split()) & INTENSIFIERS for t in none)
    three = make_corpus(3000, seed=1, max_intensifiers=3)[0]
    assert any("very very very" in t for t in three)
    assert not any("very very very very" in t for t in three)
    assert mean_length(max_intensifiers=0) < mean_length() < mean_length(max_intensifiers=5)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(n_samples=0), ValueError, r"n_samples must be >= 1, got 0"),
        (dict(n_samples=10**7 + 1), ValueError, r"n_samples must be <= 10000000, got 10000001"),
        (dict(n_samples=1.5), TypeError, "n_samples must be an integer, got float 1.5"),
        (dict(n_samples=True), TypeError, "n_samples must be an integer, got bool True"),
        (dict(n_samples="10"), TypeError, "n_samples must be an integer, got str '10'"),
        (dict(seed=-1), ValueError, "seed must be >= 0, got -1"),
        (dict(seed=1.0), TypeError, "seed must be None, an int or a numpy.random.Generator, got float"),
        (dict(seed="0"), TypeError, "seed must be None, an int"),
        (dict(max_clauses=0), ValueError, r"max_clauses must be >= 1, got 0"),
        (dict(max_clauses=21), ValueError, r"max_clauses must be <= 20, got 21"),
        (dict(max_clauses=None), TypeError, "max_clauses must be an integer, got NoneType None"),
        (dict(max_intensifiers=-1), ValueError, r"max_intensifiers must be >= 0, got -1"),
        (dict(max_intensifiers=6), ValueError, r"max_intensifiers must be <= 5, got 6"),
    ],
)
def test_corpus_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        make_corpus(**kwargs)


def test_corpus_no_keyword_misuse():
    with pytest.raises(TypeError):
        make_corpus(10, 0)  # seed is keyword-only


# ------------------------------------------------------------------ load_demo


def test_load_demo():
    (train, y_train), (test, y_test) = load_demo()
    assert len(train) == len(y_train) == 4000 and len(test) == len(y_test) == 500
    assert y_train.dtype == y_test.dtype == np.int64
    assert set(y_train.tolist()) == set(y_test.tolist()) == {0, 1}
    assert not set(train) & set(test)
    for text, label in zip(train[:300] + test[:300], y_train[:300].tolist() + y_test[:300].tolist()):
        assert Parser(text).label() == label
    (train2, y_train2), (test2, y_test2) = load_demo()
    assert train2 == train and test2 == test
    assert np.array_equal(y_train2, y_train) and np.array_equal(y_test2, y_test)
    (train3, _), (test3, _) = load_demo(seed=1)
    assert train3 != train and test3 != test
    (a, ya), (b, yb) = load_demo(n_train=30, n_test=7, seed=2, max_clauses=3)
    assert len(a) == len(ya) == 30 and len(b) == len(yb) == 7
    assert 0.4 <= y_train.mean() <= 0.6


def test_load_demo_impossible_split():
    with pytest.raises(ValueError, match="could not draw 1000 training sentences outside the 200000 test"):
        load_demo(n_train=1000, n_test=200000, max_clauses=1, max_intensifiers=0)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(n_train=0), ValueError, r"n_train must be >= 1, got 0"),
        (dict(n_test=0), ValueError, r"n_test must be >= 1, got 0"),
        (dict(n_test=2.0), TypeError, "n_test must be an integer, got float 2.0"),
        (dict(seed="a"), TypeError, "seed must be None, an int"),
        (dict(max_clauses=0), ValueError, r"max_clauses must be >= 1"),
    ],
)
def test_load_demo_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        load_demo(**kwargs)


# --------------------------------------------------------------------------
# the one reader and the one atomic writer (fastrnn._io)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("loader,sep", [(load_tsv, "\t"), (load_csv, ",")])
def test_fields_longer_than_csv_default_limit(tmp_path, loader, sep):
    import csv
    big = "word " * 60000  # 300 kB > csv's 131072-character default
    f = tmp_path / "big.txt"
    f.write_text(f"label{sep}text\n1{sep}{big}\n0{sep}short\n")
    texts, labels = loader(f)
    assert texts == [big, "short"] and labels.tolist() == [1, 0]
    assert csv.field_size_limit() == 131072


def test_atomic_write_keeps_the_old_file_on_error(tmp_path):
    from fastrnn._io import atomic_write
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def broken(f):
        f.write(b"half")
        raise RuntimeError("disk full")
    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
    atomic_write(target, lambda f: f.write("new\n"), mode="w")
    assert target.read_bytes() == b"new\n"


def test_atomic_write_uses_the_umask(tmp_path):
    from fastrnn._io import atomic_write, new_file_mode
    old = os.umask(0o027)
    try:
        assert new_file_mode() == 0o640
        atomic_write(tmp_path / "a", lambda f: f.write(b"x"))
    finally:
        os.umask(old)
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o640
    with open(tmp_path / "b", "w"):
        pass
    assert (tmp_path / "b").stat().st_mode & 0o777 == new_file_mode()


def test_check_writable(tmp_path):
    from fastrnn._io import check_writable
    (tmp_path / "f").write_text("x")
    assert check_writable(tmp_path / "new.npz") == tmp_path / "new.npz"
    for path, msg in ((tmp_path, "is a directory"), (tmp_path / "f" / "m.npz", "is not a folder"),
                      (tmp_path / "no" / "m.npz", "does not exist")):
        with pytest.raises(ValueError, match=msg):
            check_writable(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_read_lines_universal_newlines_only(tmp_path):
    from fastrnn._io import read_lines
    f = tmp_path / "t.txt"
    f.write_bytes("a\u2028b\r\nc\rd\n\ne".encode("utf-8"))
    assert read_lines(f) == ["a\u2028b", "c", "d", "", "e"]
    f.write_bytes(b"")
    assert read_lines(f) == []


def test_a_utf32_file_is_named_as_such(tmp_path):
    """A UTF-32 file was reported as UTF-16 (its byte order mark starts with UTF-16's)."""
    from fastrnn.datasets import load_tsv
    p = tmp_path / "d.tsv"
    p.write_bytes("label\ttext\n1\tgood\n".encode("utf-32"))
    with pytest.raises(ValueError, match="the file is UTF-32; save it as UTF-8"):
        load_tsv(p)


def test_a_repeated_header_row_is_named(tmp_path):
    """Two files joined (the second's header in the middle): the header's label became a
    class of its own, and fastrnn train blamed the validation split for 3 classes."""
    from fastrnn.datasets import load_csv, load_tsv
    for loader, sep, name in ((load_tsv, "\t", "d.tsv"), (load_csv, ",", "d.csv")):
        p = tmp_path / name
        p.write_text(f"label{sep}text\n1{sep}good\nlabel{sep}text\n0{sep}bad\n")
        with pytest.raises(ValueError, match="line 3 repeats the header row"):
            loader(p)
