"""``train_many``'s shared corpus (fastrnn._shared_corpus): a dataset coded once gives every
model the vocabulary, token ids and n-gram arrays a plain ``Model.fit`` computes, array for
array, so the weights stay bit-identical."""

import numpy as np
import pytest

from fastrnn import Model
from fastrnn import _fit
from fastrnn import ngrams as NG
from fastrnn._shared_corpus import SharedCorpus
from fastrnn.vocab import Vocabulary

pytestmark = pytest.mark.filterwarnings("ignore::fastrnn._fit.EmptyTextWarning")

#: ASCII, non-ASCII (code-point order differs from ASCII case order), empty and
#: punctuation-only texts, a NUL, ties in the counts, duplicates and an 'unk'-like word
TEXTS = ["Good movie!", "not good", "", "...", "naïve café déjà-vu", "a\x00b c",
         "don't 'quote' it", "x" * 300, "Good movie!", "zebra éclair Zebra apple", "<unk> unk",
         "東京 Москва 東京", "b a b a c", "good good bad", "1999 was 2000", "ÿ z é e"]


def _equal(a, b):
    if a is None or b is None:
        assert a is None and b is None
        return
    if isinstance(a, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _equal(x, y)
        return
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("min_count,max_size", [(1, None), (2, None), (1, 3), (3, 1)])
@pytest.mark.parametrize("ngrams,buckets", [(0, 1), (1, 7), (2, 97), (3, 2**20)])
def test_vocabulary_and_encodings_equal_the_plain_ones(min_count, max_size, ngrams, buckets):
    corpus = SharedCorpus(TEXTS[:10], TEXTS[10:])
    rng = np.random.default_rng(min_count * 10 + ngrams)
    subsets = [np.arange(len(TEXTS)), np.array([2, 3]), np.array([15, 0, 4]),
               np.sort(rng.choice(len(TEXTS), 9, replace=False)), np.array([8, 0, 8])]
    for where in subsets:
        texts = [TEXTS[i] for i in where]
        want = Vocabulary(min_count=min_count, max_size=max_size).fit(texts)
        v = Vocabulary(min_count=min_count, max_size=max_size)
        ids = corpus.fit_vocabulary(v, where)
        assert v.fitted and v.words == want.words and v.counts == want.counts
        assert list(v.counts) == list(want.counts)  # in id order too
        for other in (where, np.arange(len(TEXTS))[::-1]):
            other_texts = [TEXTS[i] for i in other]
            _equal(corpus.encode(ids, other, ngrams, buckets),
                   NG.encode(want, other_texts, ngrams, buckets))
            tokens, offsets = want.encode(other_texts)
            assert corpus.count_empty(other) == _fit.count_empty(want, other_texts, tokens,
                                                                 offsets)


def test_positions_only_for_the_same_texts():
    corpus = SharedCorpus(TEXTS[:5], TEXTS[5:7])
    np.testing.assert_array_equal(corpus.positions(list(TEXTS[:5])), np.arange(5))
    np.testing.assert_array_equal(corpus.positions(TEXTS[5:7], extra=True), [5, 6])
    assert corpus.positions(TEXTS[:4]) is None
    assert corpus.positions(TEXTS[1:6]) is None
    assert corpus.positions(TEXTS[:5], extra=True) is None
    with pytest.raises(ValueError, match="default tokenizer"):
        corpus.fit_vocabulary(Vocabulary(tokenizer=str.split), np.arange(5))
    with pytest.raises(ValueError, match="no texts"):
        corpus.fit_vocabulary(Vocabulary(), np.zeros(0, np.int64))


def _run_arrays(run):
    out = {"tokens": run.tokens, "offsets": run.offsets, "labels": run.labels,
           "val": None if run.val is None else tuple(run.val), "grams": run.grams,
           "val_grams": run.val_grams}
    out.update({n: a for n, a in run.params.items()})
    out["U"] = run.params.U
    return out


def _texts(n=120, seed=0):
    rng = np.random.default_rng(seed)
    words = ["good", "bad", "fine", "awful", "great", "café", "naïve", "meh", "ok", "dull"]
    texts = [" ".join(rng.choice(words, rng.integers(0, 7))) for _ in range(n)]
    labels = [int(("good" in t) or ("great" in t)) for t in texts]
    return texts, labels


@pytest.mark.parametrize("kw", [
    dict(), dict(ngrams=0), dict(min_count=2, max_size=4, ngrams=3, buckets=101),
    dict(early_stopping=False), dict(cell="gru", hidden_size=5),
    dict(embeddings="vectors", freeze_embeddings=True, hidden_size=6),
    dict(embeddings="vectors", freeze_embeddings=False, hidden_size=6, dtype="float64")])
@pytest.mark.parametrize("given_validation", [False, True])
def test_prepare_with_the_corpus_equals_prepare_without(kw, given_validation):
    texts, labels = _texts()
    validation = _texts(30, seed=1) if given_validation else None
    if kw.get("embeddings") == "vectors":
        rng = np.random.default_rng(5)
        words = ["good", "bad", "fine", "café", "meh", "unseen", "other"]
        kw = dict(kw, embeddings=(words, rng.standard_normal((len(words), 4))))
    extra = validation[0] if validation else ()
    corpus = SharedCorpus(texts, extra)
    for seed in (0, 3):
        m = Model(seed=seed, progress=False, **kw)
        plain = _fit.prepare(m, texts, labels, validation)
        coded = _fit.prepare(m, texts, labels, validation, corpus=corpus)
        assert coded.vocab.words == plain.vocab.words
        assert coded.vocab.counts == plain.vocab.counts
        a, b = _run_arrays(plain), _run_arrays(coded)
        assert a.keys() == b.keys()
        for k in a:
            _equal(a[k], b[k])


def test_prepare_falls_back_when_the_texts_differ():
    texts, labels = _texts()
    corpus = SharedCorpus(texts[:-1])
    m = Model(seed=0, progress=False)
    plain = _fit.prepare(m, texts, labels)
    other = _fit.prepare(m, texts, labels, corpus=corpus)
    assert other.vocab.words == plain.vocab.words
    _equal(other.tokens, plain.tokens)
    # validation texts that are not the corpus's extra texts: the whole fit is coded plainly
    validation = _texts(20, seed=2)
    plain = _fit.prepare(m, texts, labels, validation)
    other = _fit.prepare(m, texts, labels, validation, corpus=SharedCorpus(texts))
    _equal(tuple(other.val), tuple(plain.val))
