"""Agreement statistics against textbook worked examples."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidRequest
from shipyard.labeling import fleiss_kappa, krippendorff_alpha, per_label_agreement

# Wikipedia's Fleiss' kappa example: 10 items, 14 raters, 5 categories; kappa 0.210.
WIKIPEDIA_TABLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]
CATEGORIES = ["1", "2", "3", "4", "5"]


def answers_from_table(table: list[list[int]], labels: list[str]) -> pd.DataFrame:
    rows = []
    for i, counts in enumerate(table):
        rater = 0
        for label, count in zip(labels, counts):
            for _ in range(count):
                rows.append({"item": f"i{i}", "annotator": f"r{rater}", "label": label})
                rater += 1
    return pd.DataFrame(rows)


def test_fleiss_kappa_matches_the_wikipedia_worked_example() -> None:
    answers = answers_from_table(WIKIPEDIA_TABLE, CATEGORIES)
    assert fleiss_kappa(answers, CATEGORIES) == pytest.approx(0.2099, abs=5e-4)


def test_fleiss_kappa_is_one_for_perfect_agreement_and_ignores_single_answers() -> None:
    answers = answers_from_table([[3, 0], [0, 3], [2, 0], [0, 1]], ["a", "b"])
    assert fleiss_kappa(answers, ["a", "b"]) == pytest.approx(1.0)


def test_fleiss_kappa_with_varying_raters_uses_each_items_own_count() -> None:
    table = [[3, 0], [1, 1], [0, 4], [2, 1]]
    answers = answers_from_table(table, ["a", "b"])
    counts = np.array(table, float)
    n = counts.sum(1)
    observed = ((counts * (counts - 1)).sum(1) / (n * (n - 1))).mean()
    p = counts.sum(0) / n.sum()
    expected = (observed - (p ** 2).sum()) / (1 - (p ** 2).sum())
    assert fleiss_kappa(answers, ["a", "b"]) == pytest.approx(expected)


def test_krippendorff_alpha_matches_krippendorffs_nominal_example() -> None:
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 observers,
    # 12 units, nominal alpha 0.743 (None: the observer gave no value).
    table = {
        "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    }
    rows = [{"item": f"u{u:02d}", "annotator": obs, "label": str(v)}
            for obs, values in table.items() for u, v in enumerate(values) if v is not None]
    alpha = krippendorff_alpha(pd.DataFrame(rows), ["1", "2", "3", "4", "5"])
    assert alpha == pytest.approx(0.743, abs=5e-4)


def test_agreement_is_nan_when_undefined() -> None:
    one_each = pd.DataFrame({"item": ["a", "b"], "annotator": ["x", "x"], "label": ["p", "q"]})
    assert math.isnan(fleiss_kappa(one_each, ["p", "q"]))
    assert math.isnan(krippendorff_alpha(one_each, ["p", "q"]))
    same = answers_from_table([[2, 0], [3, 0]], ["p", "q"])
    assert math.isnan(fleiss_kappa(same, ["p", "q"]))


def test_per_label_agreement_is_each_label_against_the_rest() -> None:
    answers = answers_from_table(WIKIPEDIA_TABLE, CATEGORIES)
    per_label = per_label_agreement(answers, CATEGORIES)
    assert list(per_label) == CATEGORIES
    for k, label in enumerate(CATEGORIES):
        binary = [[row[k], 14 - row[k]] for row in WIKIPEDIA_TABLE]
        assert per_label[label] == pytest.approx(
            fleiss_kappa(answers_from_table(binary, ["in", "out"]), ["in", "out"]))
    # Category 5 is the one raters agree on most (item 1 is unanimous); category 4, spread
    # thinly over eight items, the least (0.508 and 0.030 by hand from the table).
    assert per_label["5"] == pytest.approx(0.5077, abs=1e-4)
    assert per_label["4"] == pytest.approx(0.0304, abs=1e-4)


def test_a_label_outside_the_jobs_labels_is_refused_by_name() -> None:
    answers = pd.DataFrame({"item": ["a", "a"], "annotator": ["x", "y"], "label": ["p", "zz"]})
    with pytest.raises(InvalidRequest, match="'zz'"):
        fleiss_kappa(answers, ["p", "q"])
