"""The JSON snapshot round-trips; the HTML report is self-contained, offline and escaped."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from shipyard.errors import InvalidRequest
from shipyard.profiling import FORMAT_VERSION, Profile, profile

EVIL = "<script>alert('x')</script>"


class _Tags(HTMLParser):
    """Collects tags and the attributes that could load something."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links += [v or "" for k, v in attrs if k in ("src", "href", "action")]


def _parse(html: str) -> _Tags:
    tags = _Tags()
    tags.feed(html)
    return tags


def test_snapshot_round_trips_as_strict_json(churn_profile: Profile) -> None:
    doc = churn_profile.to_dict()
    text = json.dumps(doc, allow_nan=False)
    again = Profile.from_dict(json.loads(text))
    assert again.to_dict() == doc
    assert again.warnings == churn_profile.warnings
    assert again.target == churn_profile.target
    assert doc["format_version"] == FORMAT_VERSION
    assert doc["dataset"]["rows"] == 7043 and len(doc["columns"]) == 20
    hist = next(c for c in doc["columns"] if c["name"] == "tenure")["histogram"]
    assert len(hist["edges"]) == len(hist["counts"]) + 1  # a plot needs nothing else
    with pytest.raises(InvalidRequest, match="not a profile snapshot of format"):
        Profile.from_dict({**doc, "format_version": FORMAT_VERSION + 1})


def test_html_report_is_self_contained(ames_profile: Profile) -> None:
    html = ames_profile.to_html("ames")
    tags = _parse(html)
    assert "script" not in tags.tags and "link" not in tags.tags
    assert tags.links and all(link.startswith("data:image/") for link in tags.links)
    assert html.count("<svg") >= 60  # histograms and feature-against-target plots
    heatmap = next(link for link in tags.links if link.startswith("data:image/svg+xml"))
    svg = base64.b64decode(heatmap.split(",", 1)[1]).decode()
    assert "Neighborhood" in svg and "<script" not in svg
    for section in ("Overview", "Warnings (", "Target", "Columns", "Correlations"):
        assert section in html
    assert "Pool.QC" in html and "Overall.Qual" in html


def test_user_text_is_escaped() -> None:
    frame = pd.DataFrame({EVIL: ["a", "b", "<b>bold</b>"] * 20,
                          "y": [1.0, 2.0, 3.5] * 20,
                          "label": [EVIL, "ok", "ok"] * 20})
    p = profile(frame, target="label")
    for html in (p.to_html(EVIL), p._repr_html_()):
        assert "<script>" not in html and "<b>bold</b>" not in html
        assert "&lt;script&gt;" in html
        assert "script" not in _parse(html).tags


def test_notebook_fragment_is_shorter(ames_profile: Profile) -> None:
    fragment = ames_profile._repr_html_()
    assert fragment.startswith("<style>") and "<html" not in fragment
    assert re.search(r"… and \d+ more", fragment)
    assert len(ames_profile.warnings) > 15
    assert "Profile: 2,930 rows × 82 columns, target 'price'" in repr(ames_profile)
