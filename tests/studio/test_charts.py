"""The studio's SVG charts: numbers placed, labels escaped, nothing the CSP would refuse."""

from __future__ import annotations

import math
import re

from shipyard.studio._charts import bar_chart, dag, line_chart, parallel_coordinates


def test_bars_escape_their_labels_and_skip_what_is_not_a_number() -> None:
    svg = bar_chart([("<script>x</script>", 0.8), ("b", float("nan")), ("c&d", -0.2)])
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "c&amp;d" in svg
    assert svg.count('class="bar"') == 2
    widths = [float(w) for w in re.findall(r'class="bar" x="[^"]+" y="[^"]+" width="([^"]+)"',
                                          svg)]
    assert widths[0] == max(widths)  # 0.8 is four times as long as -0.2 from the zero line
    assert abs(widths[0] / widths[1] - 4) < 0.05
    assert "style" not in svg and " on" not in svg
    assert bar_chart([]) == "" and bar_chart([("a", math.inf)]) == ""


def test_parallel_coordinates_draw_one_line_per_trial_across_the_axes() -> None:
    svg = parallel_coordinates(["num_leaves", "<b>lr</b>", "roc_auc"],
                               [[0.0, 0.5, 1.0], [1.0, math.nan, 0.0], [math.nan] * 3],
                               [1.0, 0.0, 0.5])
    assert svg.count('class="trial"') == 2  # a line with fewer than two values is not drawn
    assert "&lt;b&gt;lr&lt;/b&gt;" in svg and "<b>" not in svg
    lines = re.findall(r'class="trial" points="([^"]+)"', svg)
    assert len(lines[0].split()) == 2 and len(lines[1].split()) == 3  # worst first, best on top
    assert "style" not in svg
    assert parallel_coordinates(["a"], [[0.5]], [1.0]) == ""


def test_a_line_chart_needs_two_points() -> None:
    assert line_chart([{"step": 1, "value": 0.5}]) == ""
    assert "<polyline" in line_chart([{"step": 1, "value": 0.5}, {"step": 2, "value": 0.4}])


def test_a_dag_puts_each_step_right_of_what_it_waits_for() -> None:
    svg = dag([("load", "Succeeded"), ("<i>train</i>", "Running"), ("report", None),
               ("side", "Failed")],
              {"<i>train</i>": ["load"], "report": ["<i>train</i>", "load"], "side": []})
    xs = {name: float(x) for x, name in re.findall(
        r'<text x="([0-9.]+)" y="[0-9.]+" font-size="11" fill="#111">([^<]+)</text>', svg)}
    assert xs["load"] == xs["side"] < xs["&lt;i&gt;train&lt;/i&gt;"] < xs["report"]
    assert svg.count('class="edge"') == 3 and "<i>" not in svg
    assert 'fill="#fff1c2"' in svg and 'fill="#f8d4d4"' in svg and "style" not in svg
    # A loop (refused by the definition check) still draws, not recursing for ever.
    assert dag([("a", None), ("b", None)], {"a": ["b"], "b": ["a"]}).count("<g") == 2
    assert dag([], {}) == ""
