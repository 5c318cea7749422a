import numpy as np
import pandas as pd
import pytest

from rankwright.data.labels import LabelConfig, LabelScheme
from rankwright.training.sampling import EpochExamples, LengthGroupedSampler, Pool, SamplingConfig

BINARY = LabelScheme(LabelConfig(scheme="binary", threshold=1))


def _pairs(n_queries=6, n_neg=10, n_pos=2):
    rows = []
    for q in range(n_queries):
        for p in range(n_pos):
            rows.append((f"q{q}", f"query {q}", f"q{q}p{p}", f"pos {q} {p}", 1))
        for k in range(n_neg):
            rows.append((f"q{q}", f"query {q}", f"q{q}n{k}", f"neg {q} {k}", 0))
    return pd.DataFrame(rows, columns=["query_id", "query", "doc_id", "doc", "label"])


def _groups(config, seed=1, label_kind="binary", pairs=None):
    pool = Pool.build(pairs if pairs is not None else _pairs(), BINARY, label_kind)
    return pool, EpochExamples(pool, config, grouped=True, label_kind=label_kind, seed=seed)


def _doc_sets(examples):
    return [tuple(e.docs) for e in examples.examples]


def test_negatives_are_redrawn_every_epoch_and_reproducible():
    _, a = _groups(SamplingConfig(negatives_per_group=3, positives_per_group=0))
    epoch0 = _doc_sets(a)
    a.set_epoch(1)
    epoch1 = _doc_sets(a)
    assert epoch0 != epoch1
    _, b = _groups(SamplingConfig(negatives_per_group=3, positives_per_group=0))
    b.set_epoch(1)
    assert _doc_sets(b) == epoch1
    a.set_epoch(0)
    assert _doc_sets(a) == epoch0  # an epoch's draw depends on (seed, epoch) only


def test_group_holds_positives_then_k_negatives():
    pool, ex = _groups(SamplingConfig(negatives_per_group=4, positives_per_group=0))
    for e in ex.examples:
        assert e.labels == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
        assert len(set(e.docs)) == 6
        # every document belongs to this query: no leakage across queries
        assert all(pool.docs[d].split()[1] == pool.queries[e.query].split()[1] for d in e.docs)


def test_one_positive_per_group_is_sampled():
    _, ex = _groups(SamplingConfig(negatives_per_group=2, positives_per_group=1))
    assert all(e.labels == [1.0, 0.0, 0.0] for e in ex.examples)


def test_hard_ratio_mixes_random_pool_negatives():
    pool, ex = _groups(SamplingConfig(negatives_per_group=4, positives_per_group=1, hard_ratio=0.5))
    for e in ex.examples:
        negatives = e.docs[1:]
        own = [d for d in negatives if pool.docs[d].split()[1] == pool.queries[e.query].split()[1]]
        assert len(own) == 2  # 2 of the query's own (hard) negatives ...
        others = [d for d in negatives if d not in own]
        assert len(others) == 2  # ... and 2 random documents from the rest of the pool
        assert all(not pool.docs[d].startswith("pos " + pool.queries[e.query].split()[1] + " ") for d in others)


def test_queries_without_positive_are_skipped_for_positive_losses():
    pairs = _pairs()
    pairs.loc[pairs["query_id"] == "q0", "label"] = 0
    _, ex = _groups(SamplingConfig(), pairs=pairs)
    assert len(ex) == 5
    assert ex.skipped_queries == 1


def test_pairs_mode_caps_with_a_seeded_shuffle():
    pool = Pool.build(_pairs(), BINARY, "binary")
    a = EpochExamples(pool, SamplingConfig(max_pairs=10), grouped=False, label_kind="binary", seed=3)
    b = EpochExamples(pool, SamplingConfig(max_pairs=10), grouped=False, label_kind="binary", seed=3)
    c = EpochExamples(pool, SamplingConfig(max_pairs=10), grouped=False, label_kind="binary", seed=4)
    assert len(a) == 10
    assert [e.docs for e in a.examples] == [e.docs for e in b.examples]
    assert [e.docs for e in a.examples] != [e.docs for e in c.examples]


def test_length_grouped_sampler_is_a_seeded_permutation_with_homogeneous_batches():
    pool = Pool.build(_pairs(n_queries=40), BINARY, "binary")
    ex = EpochExamples(pool, SamplingConfig(), grouped=False, label_kind="binary", seed=0)
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 100, size=len(ex))
    sampler = LengthGroupedSampler(ex, lambda: lengths, batch_size=8, seed=0)
    order = list(sampler)
    assert sorted(order) == list(range(len(ex)))
    sampler.set_epoch(1)
    assert list(sampler) != order
    sampler.set_epoch(0)
    assert list(sampler) == order
    batches = [order[i : i + 8] for i in range(0, len(order) - 7, 8)]
    grouped_spread = np.mean([np.ptp(lengths[b]) for b in batches])
    random_spread = np.mean([np.ptp(lengths[rng.permutation(len(ex))[:8]]) for _ in range(50)])
    assert grouped_spread < random_spread / 3


@pytest.mark.parametrize("kind", ["gain", "target"])
def test_graded_label_kinds(kind):
    scheme = LabelScheme(
        LabelConfig(scheme="graded", gain_offset=1, gain_scale=12, threshold=2.33, target_range=[1, 3])
    )
    pairs = pd.DataFrame(
        {
            "query_id": ["q"] * 3,
            "query": ["x"] * 3,
            "doc_id": ["a", "b", "c"],
            "doc": ["a", "b", "c"],
            "label": [3.0, 2.0, 1.0],
        }
    )
    pool = Pool.build(pairs, scheme, kind)
    expected = [24.0, 12.0, 0.0] if kind == "gain" else [1.0, 0.5, 0.0]
    assert pool.pair_label.tolist() == expected
