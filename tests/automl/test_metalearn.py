"""Learning a portfolio over a corpus of tables (shipyard.automl._metalearn)."""

from __future__ import annotations

import numpy as np

from shipyard.automl._metalearn import MAX_REGRET, best_of, greedy, regret


def test_regret_is_zero_at_a_tables_best_and_one_at_its_median() -> None:
    losses = np.array([[0.10, 0.20, 0.30, np.nan],  # one failed fit
                       [5.0, 5.0, 5.0, 5.0]])        # every configuration ties
    r = regret(losses)
    assert np.allclose(r[0, :3], [0.0, 1.0, 2.0])  # the median is 0.20
    assert r[0, 3] == MAX_REGRET
    assert r[1].tolist() == [0.0] * 4
    assert regret(np.array([[1.0, 2.0, 3.0, 1e9]]))[0, 3] == MAX_REGRET  # clipped


def test_greedy_adds_what_covers_the_tables_the_start_misses() -> None:
    # Three tables; config 0 (the start) is good on table 0 only. Config 1 is good on
    # tables 1 and 2, config 2 on table 1 only, config 3 on table 2 only.
    r = np.array([[0.0, 1.0, 1.0, 1.0],
                  [1.0, 0.1, 0.0, 1.0],
                  [1.0, 0.1, 1.0, 0.0]])
    assert greedy(r, 1, start=[0]) == [1]
    assert greedy(r, 3, start=[0]) == [1, 2, 3]
    # Nothing left to gain: it stops early.
    assert greedy(np.zeros((2, 3)), 2, start=[0]) == []
    # A tie goes to the cheaper configuration.
    tie = np.array([[1.0, 0.0, 0.0]])
    assert greedy(tie, 1, start=[0], costs=np.array([1.0, 9.0, 2.0])) == [2]
    assert greedy(tie, 1, start=[0], costs=np.array([1.0, 2.0, 9.0])) == [1]


def test_best_of_picks_the_lowest_validation_loss_among_the_list() -> None:
    val = np.array([0.3, 0.1, np.nan, 0.2])
    assert best_of(val, [0, 3]) == 3
    assert best_of(val, [0, 1, 2]) == 1
    assert best_of(val, [2]) is None
