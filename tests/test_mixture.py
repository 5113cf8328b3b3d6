"""The topic-mixture core: target shares, capped rates, copies per document, and the report."""

import math

import numpy as np
import pytest
import xxhash

from corpus.topics.mixture import (copies, copies_many, draws, effective_topics, kl, mix_report,
                                   rates, target_shares, units)

TOKENS = {("en", "news"): 6000, ("en", "code"): 3000, ("fr", "news"): 1000, ("fr", "code"): 0}


def test_alpha_one_is_the_natural_mix():
    shares = target_shares(TOKENS, 1.0)
    assert shares == pytest.approx({("en", "news"): 0.6, ("en", "code"): 0.3,
                                    ("fr", "news"): 0.1, ("fr", "code"): 0.0})


def test_alpha_zero_is_uniform_over_cells_with_tokens():
    shares = target_shares(TOKENS, 0.0)
    assert shares == pytest.approx({("en", "news"): 1 / 3, ("en", "code"): 1 / 3,
                                    ("fr", "news"): 1 / 3, ("fr", "code"): 0.0})


def test_lower_alpha_flattens_the_mix():
    spread = [effective_topics(target_shares(TOKENS, a)) for a in (1.0, 0.7, 0.3, 0.0)]
    assert spread == sorted(spread) and spread[0] < spread[-1]
    assert spread[-1] == pytest.approx(3.0)
    assert sum(target_shares(TOKENS, 0.5).values()) == pytest.approx(1.0)


def test_overrides_fix_shares_and_the_rest_follows_alpha():
    shares = target_shares(TOKENS, 1.0, {("fr", "news"): 0.5})
    assert shares[("fr", "news")] == 0.5
    assert shares[("en", "news")] == pytest.approx(0.5 * 6000 / 9000)
    assert shares[("en", "code")] == pytest.approx(0.5 * 3000 / 9000)
    assert sum(shares.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("overrides, match", [
    ({("en", "news"): 1.5}, "en', 'news"),
    ({("en", "news"): -0.1}, "en', 'news"),
    ({("en", "news"): 0.7, ("en", "code"): 0.6}, "en', 'code"),
    ({("de", "news"): 0.1}, "de', 'news"),
    ({("fr", "code"): 0.1}, "fr', 'code"),
])
def test_bad_overrides_are_refused(overrides, match):
    with pytest.raises(ValueError, match=match):
        target_shares(TOKENS, 1.0, overrides)


def test_no_tokens_or_no_other_cell():
    assert target_shares({"a": 0, "b": 0}, 0.5) == {"a": 0.0, "b": 0.0}
    assert target_shares({}, 0.5) == {}
    assert target_shares({"a": 10, "b": 0}, 0.5, {"a": 0.4}) == {"a": 1.0, "b": 0.0}
    assert rates({"a": 0}, {"a": 0.0}, 0, 4) == {"a": 0.0}


def test_rates_without_cap_give_the_output_asked():
    shares = target_shares(TOKENS, 0.0)
    r = rates(TOKENS, shares, 3000, max_repeat=10)
    assert r[("en", "news")] == pytest.approx(1000 / 6000)
    assert r[("fr", "code")] == 0.0
    assert sum(r[c] * n for c, n in TOKENS.items()) == pytest.approx(3000)


def test_cap_is_respected_and_its_mass_redistributed():
    tokens = {"a": 1000, "b": 100, "c": 10, "d": 1}
    shares = target_shares(tokens, 0.0)
    r = rates(tokens, shares, 600, max_repeat=4)
    assert max(r.values()) <= 4
    assert r["d"] == r["c"] == 4 and r["b"] < 4
    assert sum(r[c] * n for c, n in tokens.items()) == pytest.approx(600)
    # what is left after the capped cells goes to "a" and "b" in proportion to their shares
    assert r["a"] * 1000 == pytest.approx(r["b"] * 100)
    # asking for more caps "b" too, but only in the second round
    r = rates(tokens, shares, 1000, max_repeat=4)
    assert r["b"] == r["c"] == r["d"] == 4
    assert r["a"] == pytest.approx((1000 - 4 * 111) / 1000)


def test_when_every_cell_is_capped_the_output_is_smaller():
    tokens = {"a": 10, "b": 20}
    r = rates(tokens, target_shares(tokens, 1.0), 1000, max_repeat=4)
    assert r == {"a": 4.0, "b": 4.0}


def _keys(n: int) -> np.ndarray:
    return np.array([xxhash.xxh3_64_intdigest(f"doc-{i}".encode()) for i in range(n)], dtype=np.uint64)


def test_copies_are_deterministic_and_have_the_rate_as_mean():
    keys = _keys(100_000)
    for rate in (0.3, 1.0, 2.75):
        counts = copies_many(11, keys, np.full(keys.size, rate))
        assert (counts == copies_many(11, keys, np.full(keys.size, rate))).all()
        assert set(counts.tolist()) <= {math.floor(rate), math.floor(rate) + 1}
        assert np.mean(counts) == pytest.approx(rate, rel=0.01)
    assert copies_many(11, keys[:100], np.full(100, 0.5)).tolist() != \
        copies_many(12, keys[:100], np.full(100, 0.5)).tolist()


def test_copies_many_matches_copies_whatever_the_order():
    rng = np.random.default_rng(3)
    keys = _keys(20_000)
    r = rng.uniform(0, 5, size=keys.size)
    many = copies_many(5, keys, r)
    assert many[:500].tolist() == [copies(5, int(k), x) for k, x in zip(keys[:500], r)]
    order = rng.permutation(keys.size)
    assert (copies_many(5, keys[order], r[order]) == many[order]).all()


def test_draws_are_uniform_and_streams_independent():
    keys = _keys(50_000)
    u, v = units(7, keys, 0), units(7, keys, 1)
    assert 0.0 <= u.min() and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.01
    assert abs(np.corrcoef(u, v)[0, 1]) < 0.02
    # one bit of the key flips about half of the output bits
    flips = np.unpackbits((draws(7, keys, 0) ^ draws(7, keys ^ np.uint64(1), 0)).view(np.uint8))
    assert flips.mean() == pytest.approx(0.5, abs=0.01)


def test_realised_mix_is_close_to_target():
    rng = np.random.default_rng(0)
    weights = 1.6 ** -np.arange(12)
    cells = rng.choice(12, size=100_000, p=weights / weights.sum())
    lengths = rng.integers(50, 2000, size=len(cells))
    keys = _keys(len(cells))
    tokens = {c: int(lengths[cells == c].sum()) for c in range(12)}
    shares = target_shares(tokens, 0.5)
    r = rates(tokens, shares, sum(tokens.values()), max_repeat=4)
    assert any(x == 4 for x in r.values())  # the cap binds for the smallest cells
    counts = copies_many(1, keys, np.array([r[c] for c in cells]))
    assert counts.max() <= 4
    realised = {c: int((counts * lengths)[cells == c].sum()) for c in range(12)}
    assert kl(realised, shares) <= 0.01
    assert effective_topics(shares) > effective_topics(tokens)

    report = mix_report(tokens, shares, realised)
    assert [row["cell"] for row in report] == list(range(12))
    assert sum(row["realised_share"] for row in report) == pytest.approx(1.0)
    for row in report:
        assert row["repeat_factor"] == pytest.approx(realised[row["cell"]] / tokens[row["cell"]])
        assert row["repeat_factor"] <= 4


def test_kl_and_effective_topics():
    assert kl({"a": 1, "b": 1}, {"a": 0.5, "b": 0.5}) == 0.0
    assert kl({"a": 1, "b": 0}, {"a": 0.5, "b": 0.5}) == pytest.approx(math.log(2))
    assert kl({"a": 1}, {"b": 1}) == math.inf
    assert effective_topics({"a": 2, "b": 2, "c": 2, "d": 0}) == pytest.approx(3.0)
