"""The benchmark timer's grouping: grouped functions run back to back, ratios are paired."""

from __future__ import annotations

from benches.timing import Timing, measure, paired_ratio


def test_groups_run_back_to_back_in_alternating_order() -> None:
    calls: list[str] = []
    funcs = {n: (lambda n=n: calls.append(n)) for n in ("a", "x", "b", "y")}
    measure(funcs, min_rounds=4, max_rounds=4, budget=0, warmup=0, groups=[["a", "b"]])
    rounds = [calls[i : i + 4] for i in range(0, 16, 4)]
    pairs = []
    for r in rounds:
        i, j = r.index("a"), r.index("b")
        assert abs(i - j) == 1, r  # never split by another function
        pairs.append(i < j)
    assert pairs == [True, False, True, False]  # a-b, then b-a


def test_paired_ratio_is_the_median_of_per_round_ratios() -> None:
    # Round 2 is a slow spell for both; medians taken apart would give 30/2 = 15.
    num = Timing("n", samples=[10.0, 60.0, 30.0, 60.0, 10.0])
    den = Timing("d", samples=[1.0, 6.0, 3.0, 2.0, 1.0], scale=1.0)
    assert num.median / den.median == 15.0
    assert paired_ratio(num, den) == 10.0


def test_paired_ratio_applies_each_scale() -> None:
    num = Timing("n", samples=[10.0, 20.0, 30.0])
    den = Timing("d", samples=[4.0, 8.0, 12.0], scale=0.25)
    assert paired_ratio(num, den) == 10.0
