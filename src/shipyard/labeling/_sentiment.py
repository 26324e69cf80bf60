"""A sentiment block for the text labeler: VADER's lexicon scores, a few numbers per text.

VADER (``vaderSentiment``, MIT) ships its lexicon of ~7,500 rated words and emoticons in
its wheel, so nothing is downloaded. TF-IDF n-grams tell *what* a text is about; how
strongly it praises or complains is spread over many rare n-grams that a few hundred
labels cannot weigh. These columns give that degree directly (five stars against four is
a question of degree), and a linear model can still give them no weight where a task is
not about sentiment.

:func:`sentiment_features` returns, per text: VADER's neg / neu / pos shares and
compound score of the whole text; the mean, lowest and highest compound score of its
sentences and the share of its sentences that are negative and positive (a mostly happy
review with one complaint is often a four); "!" per sentence; and the log of the number
of sentences. No labels are used.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

#: The columns :func:`sentiment_features` returns, in order.
COLUMNS = ("neg", "neu", "pos", "compound", "sentence_mean", "sentence_min", "sentence_max",
           "negative_sentences", "positive_sentences", "exclamations", "log_sentences")
#: |compound| below this is neutral (VADER's own convention).
NEUTRAL = 0.05

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def _analyzer() -> Any:
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "The text labeler's sentiment features need vaderSentiment; install it with: "
            "pip install 'shipyard[ml]' (or build the labeler with "
            "LabelerConfig(sentiment=False) to go without)") from exc
    return SentimentIntensityAnalyzer()


def sentiment_features(texts: Sequence[str]) -> np.ndarray:
    """One row of :data:`COLUMNS` per text (floats, unscaled)."""
    analyzer = _analyzer()
    rows = np.zeros((len(texts), len(COLUMNS)), dtype=float)
    for i, raw in enumerate(texts):
        text = _HTML_BREAK.sub(" ", str(raw))
        whole = analyzer.polarity_scores(text)
        sentences = [s for s in _SENTENCE_END.split(text) if s.strip()] or [text]
        compound = np.asarray([analyzer.polarity_scores(s)["compound"] for s in sentences])
        rows[i] = (whole["neg"], whole["neu"], whole["pos"], whole["compound"],
                   compound.mean(), compound.min(), compound.max(),
                   (compound < -NEUTRAL).mean(), (compound > NEUTRAL).mean(),
                   text.count("!") / len(sentences), np.log1p(len(sentences)))
    return rows
