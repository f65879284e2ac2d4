"""Tests of fastrnn.vocab: tokenizer, Vocabulary fit/encode/decode, JSON round trip."""

import json

import numpy as np
import pytest

from fastrnn.vocab import UNKNOWN_TOKEN, Vocabulary, default_tokenizer

# ------------------------------------------------------------------ tokenizer


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Good!", ["good"]),
        ("good", ["good"]),
        ("GOOD, good... GoOd?!", ["good", "good", "good"]),
        ("hello,world...foo--bar/baz", ["hello", "world", "foo", "bar", "baz"]),
        ("  \t\n ", []),
        ("", []),
        ("?!... -- ;", []),
        ("x_y __z__", ["x", "y", "z"]),
        ("route 66 in 2024", ["route", "66", "in", "2024"]),
        # apostrophes: inside a word they stay, around it they go
        ("I don't think it's GOOD", ["i", "don't", "think", "it's", "good"]),
        ("it\u2019s fine", ["it\u2019s", "fine"]),
        ("rock'n'roll", ["rock'n'roll"]),
        ("the 90's, 'em", ["the", "90's", "em"]),
        ("'quoted' students' work", ["quoted", "students", "work"]),
        ("a''b", ["a", "b"]),
        ("'", []),
        # Unicode letters of any script, lower-cased
        ("Café MÜNCHEN naïve", ["café", "münchen", "naïve"]),
        ("Москва и ЛЕНИНГРАД", ["москва", "и", "ленинград"]),
        ("東京 tokyo", ["東京", "tokyo"]),
        ("ΣΑΣ", ["σας"]),
        # combining marks stay inside the word
        ("cafe\u0301 ok", ["cafe\u0301", "ok"]),
        ("हिन्दी भाषा", ["हिन्दी", "भाषा"]),
        ("a\U0001D165b", ["a\U0001D165b"]),
    ],
)
def test_default_tokenizer(text, expected):
    assert default_tokenizer(text) == expected


def _reference_encode(vocab, texts, tokenize=default_tokenizer):
    """Per-text, per-word reference of Vocabulary.encode."""
    ids = [[vocab.index(w) for w in tokenize(t)] or [0] for t in texts]
    tokens = np.array([i for row in ids for i in row], dtype=np.int32)
    offsets = np.concatenate(([0], np.cumsum([len(row) for row in ids]))).astype(np.int64)
    return tokens, offsets


@pytest.mark.parametrize(
    "pieces",
    [
        ["The", "good", "Bad!", "not,", "movie.", "don't", "'q'", "...", "", "x_y", "a''b",
         "90's", "'s", "x9'y"],
        ["café", "cafe\u0301", "Москва", "東京", "हिन्दी", "it’s", "’tis", "ΣΑΣ", "K", "good",
         "x_y", "_é_", "don't", "90's", "'s"],
        ["a\U0001D165b", "\U0001F600", "good", "BAD", "x", "x_y", "it’s"],  # supplementary plane
        ["good", "bad", "a\x00b", "\x00", "NUL\x00"],  # NUL: per-text fallback
    ],
    ids=["ascii", "bmp", "supplementary", "nul"],
)
def test_encode_matches_per_text_tokenizer(pieces):
    """encode() tokenises all texts in one pass; it must equal text by text."""
    rng = np.random.default_rng(0)
    arr = np.array(pieces, dtype=object)
    texts = [" ".join(row) for row in arr[rng.integers(0, len(pieces), (3000, 5))].tolist()]
    texts += ["", "...", pieces[0]]
    vocab = Vocabulary(min_count=2).fit(texts[:1500])
    tokens, offsets = vocab.encode(texts)
    ref_tokens, ref_offsets = _reference_encode(vocab, texts)
    np.testing.assert_array_equal(tokens, ref_tokens)
    np.testing.assert_array_equal(offsets, ref_offsets)
    # fit() counts with the same batch tokenisation
    counts = {}
    for t in texts[:1500]:
        for w in default_tokenizer(t):
            counts[w] = counts.get(w, 0) + 1
    assert vocab.counts == {w: c for w, c in counts.items() if c >= 2}


# ------------------------------------------------------------------- settings


def test_constructor_validation():
    with pytest.raises(TypeError, match="tokenizer must be a callable"):
        Vocabulary(tokenizer="split")
    with pytest.raises(ValueError, match="min_count must be >= 1, got 0"):
        Vocabulary(min_count=0)
    with pytest.raises(TypeError, match="min_count must be an integer, got float"):
        Vocabulary(min_count=1.5)
    with pytest.raises(TypeError, match="min_count must be an integer, got bool"):
        Vocabulary(min_count=True)
    with pytest.raises(ValueError, match="max_size must be >= 1, got 0"):
        Vocabulary(max_size=0)
    with pytest.raises(TypeError, match="max_size must be an integer, got str"):
        Vocabulary(max_size="3")
    v = Vocabulary(min_count=np.int64(2), max_size=np.int32(5))
    assert (v.min_count, v.max_size) == (2, 5)
    assert type(v.min_count) is int and type(v.max_size) is int


# ------------------------------------------------------------------------ fit

TEXTS = ["this is good", "this is not good", "Bad!", "good, GOOD"]
# counts: good 4, this 2, is 2, not 1, bad 1


def test_fit_ids_by_count_then_alphabet():
    v = Vocabulary().fit(TEXTS)
    assert v.words == ["<unk>", "good", "is", "this", "bad", "not"]
    assert v.counts == {"good": 4, "is": 2, "this": 2, "bad": 1, "not": 1}
    assert list(v.counts) == v.words[1:]
    assert len(v) == 6
    assert [v.index(w) for w in v.words] == list(range(6))
    assert Vocabulary.UNKNOWN_ID == 0 and Vocabulary.UNKNOWN_TOKEN == UNKNOWN_TOKEN == "<unk>"
    # deterministic: input order does not matter
    assert Vocabulary().fit(TEXTS[::-1]).words == v.words


def test_fit_min_count_and_max_size():
    assert Vocabulary(min_count=2).fit(TEXTS).words == ["<unk>", "good", "is", "this"]
    assert Vocabulary(min_count=5).fit(TEXTS).words == ["<unk>"]
    # ties at the cut are broken alphabetically: "is" before "this"
    assert Vocabulary(max_size=2).fit(TEXTS).words == ["<unk>", "good", "is"]
    assert Vocabulary(max_size=100).fit(TEXTS).words == Vocabulary().fit(TEXTS).words
    v = Vocabulary(min_count=2, max_size=1).fit(TEXTS)
    assert v.words == ["<unk>", "good"] and v.counts == {"good": 4}


def test_fit_replaces_previous_words_and_returns_self():
    v = Vocabulary()
    assert v.fit(["a b"]) is v
    v.fit(["c"])
    assert v.words == ["<unk>", "c"] and "a" not in v


def test_fit_accepts_iterables():
    gen = (t for t in TEXTS)
    assert Vocabulary().fit(gen).words == Vocabulary().fit(TEXTS).words
    assert Vocabulary().fit(np.array(TEXTS)).words == Vocabulary().fit(TEXTS).words


def test_unknown_token_is_never_a_known_word():
    v = Vocabulary(tokenizer=str.split).fit(["<unk> <unk> a"])
    assert v.words == ["<unk>", "a"]
    assert v.index("<unk>") == 0 and "<unk>" not in v


@pytest.mark.parametrize("method", ["fit", "encode"])
def test_bad_texts(method):
    v = Vocabulary().fit(["a"])
    call = getattr(v, method)
    with pytest.raises(TypeError, match="texts must be a sequence of strings, not a single str"):
        call("this is good")
    with pytest.raises(TypeError, match="not bytes"):
        call(b"this is good")
    with pytest.raises(TypeError, match=r"texts\[2\] must be a str, got int"):
        call(["a", "b", 3])
    with pytest.raises(TypeError, match=r"texts\[0\] must be a str, got NoneType"):
        call([None])
    with pytest.raises(TypeError, match="texts must be an iterable of str, got int"):
        call(5)


def test_fit_empty_is_an_error():
    with pytest.raises(ValueError, match="fit\\(\\) got no texts"):
        Vocabulary().fit([])


def test_bad_custom_tokenizer_output():
    with pytest.raises(TypeError, match="tokenizer must return a list of str, got str"):
        Vocabulary(tokenizer=lambda s: s).fit(["abc"])
    with pytest.raises(TypeError, match="tokenizer must return a list of str, got int"):
        Vocabulary(tokenizer=len).fit(["abc"])
    with pytest.raises(TypeError, match="tokenizer must return str tokens, got int"):
        Vocabulary(tokenizer=lambda s: [1, 2]).fit(["abc"])
    tokens = {"x": ["a"], "y": ["a", 7]}
    v = Vocabulary(tokenizer=lambda s: tokens[s]).fit(["x"])
    with pytest.raises(TypeError, match="tokenizer must return str tokens, got int"):
        v.encode(["x", "y"])


# ------------------------------------------------------------ lookups, state


def test_lookup_and_state():
    v = Vocabulary()
    assert not v.fitted and len(v) == 1 and v.words == ["<unk>"] and v.counts == {}
    v.fit(TEXTS)
    assert v.fitted
    assert v.index("good") == 1 and v.index("great") == 0
    assert v.index("Good") == 0  # index() takes tokens: no lower-casing
    assert "good" in v and "great" not in v and "<unk>" not in v and 3 not in v
    with pytest.raises(TypeError, match="word must be a str, got int"):
        v.index(1)
    words, counts = v.words, v.counts
    words.append("zzz")
    counts["zzz"] = 9
    assert "zzz" not in v.words and "zzz" not in v.counts  # copies


@pytest.mark.parametrize("method, args", [
    ("encode", (["a"],)), ("decode", ([0],)), ("to_dict", ()), ("to_json", ())])
def test_needs_fit(method, args):
    name = "to_dict" if method == "to_json" else method
    with pytest.raises(RuntimeError, match=rf"Vocabulary\.{name}\(\) needs a fitted vocabulary: call fit"):
        getattr(Vocabulary(), method)(*args)


# --------------------------------------------------------------------- encode


def test_encode_hand_example():
    v = Vocabulary().fit(TEXTS)  # <unk> good is this bad not
    tokens, offsets = v.encode(["This is GOOD!", "", "not great, bad", "...", "good"])
    assert tokens.dtype == np.int32 and offsets.dtype == np.int64
    assert tokens.ndim == 1 and offsets.shape == (6,)
    np.testing.assert_array_equal(tokens, np.array([3, 2, 1, 0, 5, 0, 4, 0, 1], dtype=np.int32))
    np.testing.assert_array_equal(offsets, np.array([0, 3, 4, 7, 8, 9], dtype=np.int64))
    assert tokens.flags.c_contiguous


def test_encode_empty_text_is_one_unknown_step():
    v = Vocabulary().fit(TEXTS)
    for text in ["", "   ", "?!", "_"]:
        tokens, offsets = v.encode([text])
        np.testing.assert_array_equal(tokens, [0])
        np.testing.assert_array_equal(offsets, [0, 1])
    tokens, offsets = v.encode(["", ""])
    np.testing.assert_array_equal(tokens, [0, 0])
    np.testing.assert_array_equal(offsets, [0, 1, 2])


def test_encode_no_texts():
    tokens, offsets = Vocabulary().fit(TEXTS).encode([])
    assert tokens.shape == (0,) and tokens.dtype == np.int32
    np.testing.assert_array_equal(offsets, np.array([0], dtype=np.int64))
    assert offsets.dtype == np.int64


def test_encode_custom_tokenizer():
    def chars(s):
        return list(s.replace(" ", ""))

    v = Vocabulary(tokenizer=chars).fit(["aab", "b c"])
    assert v.words == ["<unk>", "a", "b", "c"]
    tokens, offsets = v.encode(["ab", " ", "Ad\x00"])
    np.testing.assert_array_equal(tokens, [1, 2, 0, 0, 0, 0])
    np.testing.assert_array_equal(offsets, [0, 2, 3, 6])
    # a custom tokenizer may produce any string, NUL included, as a word
    v = Vocabulary(tokenizer=lambda s: s.split(",")).fit(["\x00,x", "\x00"])
    assert v.words == ["<unk>", "\x00", "x"]
    tokens, offsets = v.encode(["x,\x00", "\x00"])
    np.testing.assert_array_equal(tokens, [2, 1, 1])
    np.testing.assert_array_equal(offsets, [0, 2, 3])


# --------------------------------------------------------------------- decode


def test_decode_words_and_sentences():
    v = Vocabulary().fit(TEXTS)
    assert v.decode([3, 2, 1, 0]) == ["this", "is", "good", "<unk>"]
    assert v.decode(np.array([], dtype=np.int32)) == []
    assert v.decode(np.array([1, 1], dtype=np.uint8)) == ["good", "good"]
    assert v.decode([3, 2, 1, 0, 5], [0, 3, 3, 5]) == ["this is good", "", "<unk> not"]


def test_decode_round_trip():
    texts = ["This is GOOD!", "", "not great, bad", "is this good?"]
    v = Vocabulary().fit(TEXTS)
    tokens, offsets = v.encode(texts)
    assert v.decode(tokens, offsets) == ["this is good", "<unk>", "not <unk> bad", "is this good"]
    v_all = Vocabulary().fit(texts[2:])
    tokens, offsets = v_all.encode(texts[2:])
    assert v_all.decode(tokens, offsets) == [" ".join(default_tokenizer(t)) for t in texts[2:]]


def test_decode_bad_input():
    v = Vocabulary().fit(TEXTS)
    with pytest.raises(ValueError, match=r"tokens contains id 6, outside 0\.\.5"):
        v.decode([1, 6])
    with pytest.raises(ValueError, match="tokens contains id -1"):
        v.decode([-1])
    with pytest.raises(TypeError, match="tokens must hold integers, got dtype float64"):
        v.decode([1.0])
    with pytest.raises(TypeError, match="tokens must hold integers, got dtype bool"):
        v.decode([True])
    with pytest.raises(ValueError, match=r"tokens must be 1-D, got shape \(1, 2\)"):
        v.decode([[1, 2]])
    with pytest.raises(ValueError, match="offsets must start with 0"):
        v.decode([1, 2], [1, 2])
    with pytest.raises(ValueError, match="offsets must start with 0"):
        v.decode([1, 2], [])
    with pytest.raises(ValueError, match=r"offsets\[-1\] is 1 but tokens has 2 ids"):
        v.decode([1, 2], [0, 1])
    with pytest.raises(ValueError, match="offsets must be non-decreasing"):
        v.decode([1, 2], [0, 2, 1, 2])
    with pytest.raises(TypeError, match="offsets must hold integers"):
        v.decode([1, 2], [0.0, 2.0])


# ------------------------------------------------------------------------ JSON


def test_to_dict_content():
    d = Vocabulary(min_count=1, max_size=10).fit(TEXTS).to_dict()
    assert d == {
        "format": 1,
        "words": ["<unk>", "good", "is", "this", "bad", "not"],
        "counts": {"good": 4, "is": 2, "this": 2, "bad": 1, "not": 1},
        "min_count": 1,
        "max_size": 10,
        "tokenizer": "default",
    }
    assert json.loads(json.dumps(d)) == d


def test_json_round_trip():
    v = Vocabulary(min_count=1, max_size=50).fit(TEXTS + ["Москва café"])
    w = Vocabulary.from_dict(v.to_dict())
    assert w == v and w.fitted and w.words == v.words and w.counts == v.counts
    s = v.to_json()
    assert "москва" in s  # readable, not \u-escaped
    u = Vocabulary.from_json(s)
    assert u == v
    assert Vocabulary.from_json(s.encode("utf-8")) == v
    texts = ["Москва is good", "café?"]
    for a, b in zip(u.encode(texts), v.encode(texts)):
        np.testing.assert_array_equal(a, b)
    assert json.loads(v.to_json(indent=2)) == v.to_dict()


def test_json_round_trip_custom_tokenizer():
    v = Vocabulary(tokenizer=str.split).fit(TEXTS)
    d = v.to_dict()
    assert d["tokenizer"] == "custom"
    with pytest.raises(ValueError, match="custom tokenizer, which is not serialised: pass"):
        Vocabulary.from_dict(d)
    with pytest.raises(ValueError, match="custom tokenizer"):
        Vocabulary.from_json(v.to_json())
    w = Vocabulary.from_dict(d, tokenizer=str.split)
    assert w == v and w.tokenizer is str.split
    assert Vocabulary.from_json(v.to_json(), tokenizer=str.split) == v
    with pytest.raises(ValueError, match="uses the default tokenizer: do not pass tokenizer="):
        Vocabulary.from_dict(Vocabulary().fit(TEXTS).to_dict(), tokenizer=str.split)


def _good_dict():
    return Vocabulary().fit(TEXTS).to_dict()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("words"), "missing key\\(s\\): words"),
        (lambda d: (d.pop("counts"), d.pop("format")), "missing key\\(s\\): format, counts"),
        (lambda d: d.update(format=2), "unsupported vocabulary format 2"),
        (lambda d: d.update(format=True), "unsupported vocabulary format True"),
        (lambda d: d.update(tokenizer="split"), "'tokenizer' must be 'default' or 'custom'"),
        (lambda d: d.update(words="<unk> good"), "'words' must be a list of str"),
        (lambda d: d["words"].append(3), "'words' must be a list of str"),
        (lambda d: d.update(words=[]), "'words' must start with '<unk>'"),
        (lambda d: d["words"].reverse(), "'words' must start with '<unk>'"),
        (lambda d: d["words"].__setitem__(3, "good"), "duplicate word 'good'"),
        (lambda d: d.update(counts=[4, 2, 2, 1, 1]), "'counts' must be a dict"),
        (lambda d: d["counts"].pop("bad"), "exactly the known words.*missing: \\['bad'\\]"),
        (lambda d: d["counts"].update(zzz=1), "exactly the known words.*not in words: \\['zzz'\\]"),
        (lambda d: d["counts"].update(good=0), "'counts'\\['good'\\] must be an int >= 1, got 0"),
        (lambda d: d["counts"].update(good="4"), "'counts'\\['good'\\] must be an int >= 1"),
        (lambda d: d.update(min_count=0), "bad setting: min_count must be >= 1"),
        (lambda d: d.update(max_size="x"), "bad setting: max_size must be an int"),
        (lambda d: d.update(max_size=2), "has 5 known words, more than its max_size 2"),
    ],
)
def test_malformed_dict(change, message):
    d = _good_dict()
    change(d)
    with pytest.raises(ValueError, match=message):
        Vocabulary.from_dict(d)


def test_malformed_json():
    with pytest.raises(TypeError, match="vocabulary dict must be a dict, got list"):
        Vocabulary.from_dict([])
    with pytest.raises(ValueError, match="not valid JSON"):
        Vocabulary.from_json("{'format': 1}")
    with pytest.raises(ValueError, match="not valid JSON"):
        Vocabulary.from_json(b"\xff")
    with pytest.raises(ValueError, match="must hold an object, got list"):
        Vocabulary.from_json("[1, 2]")
    with pytest.raises(TypeError, match="from_json\\(\\) needs a str, got dict"):
        Vocabulary.from_json({})


# ------------------------------------------------------------- eq, repr, hash


def test_equality():
    a = Vocabulary().fit(TEXTS)
    assert a == Vocabulary().fit(TEXTS)
    assert a != Vocabulary().fit(TEXTS[:2])
    assert a != Vocabulary(min_count=1, max_size=99).fit(TEXTS)
    assert a != Vocabulary(tokenizer=str.split).fit(TEXTS)
    assert Vocabulary() == Vocabulary() and Vocabulary() != a
    assert a != a.to_dict() and (a == "x") is False
    # same words, different counts
    assert Vocabulary().fit(["a b b"]) != Vocabulary().fit(["a b b b"])
    with pytest.raises(TypeError, match="unhashable"):
        hash(a)


def test_repr():
    assert repr(Vocabulary()) == (
        "Vocabulary(<not fitted>, min_count=1, max_size=None, tokenizer='default')"
    )
    r = repr(Vocabulary(max_size=9, tokenizer=str.split).fit(["a b c d e f g"]))
    assert r == (
        "Vocabulary(size=8, min_count=1, max_size=9, tokenizer='custom', "
        "words=[<unk>, 'a', 'b', 'c', 'd', 'e', ...])"
    )
    assert repr(Vocabulary().fit(["a"])).endswith("words=[<unk>, 'a'])")


def test_encode_and_fit_in_chunks(monkeypatch):
    """Texts are processed in chunks; chunk boundaries must not show."""
    import fastrnn.vocab as vocab_module

    texts = ["good movie", "", "bad", "...", "not good at all", "", "x_y", "café ok", "b"] * 5
    whole = Vocabulary().fit(texts)
    ref_tokens, ref_offsets = _reference_encode(whole, texts)
    for chunk in (1, 2, 3, 7, 1000):
        monkeypatch.setattr(vocab_module, "_CHUNK", chunk)
        v = Vocabulary().fit(texts)
        assert v == whole
        tokens, offsets = v.encode(texts)
        assert tokens.dtype == np.int32 and offsets.dtype == np.int64
        np.testing.assert_array_equal(tokens, ref_tokens)
        np.testing.assert_array_equal(offsets, ref_offsets)


def test_settings_are_read_only():
    v = Vocabulary(min_count=2).fit(TEXTS)
    with pytest.raises(AttributeError):
        v.min_count = 1
    with pytest.raises(AttributeError):
        v.max_size = 3
    assert (v.min_count, v.max_size) == (2, None)
