"""Success criteria: a metric, the split it is measured on, and a threshold (pure)."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

from shipyard.errors import InvalidRequest

#: Metrics where lower is better; the default comparison follows from the name.
LOWER_IS_BETTER = frozenset({"rmse", "mae", "mape", "log_loss", "mse"})
_TEXT = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>>=|<=|>|<)\s*(?P<threshold>[-+0-9.eE]+%?)"
    r"\s*(?:@\s*(?P<split>[a-z]+))?\s*$"
)
_OPS = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
}


@dataclass(frozen=True)
class Criterion:
    metric: str
    op: str
    threshold: float
    split: str = "test"

    @classmethod
    def parse(cls, value: str | dict[str, Any]) -> Criterion:
        """From ``"roc_auc>=0.80@test"``, ``"mape<=5%"`` or a dict with the same fields."""
        if isinstance(value, dict):
            try:
                crit = cls(
                    metric=str(value["metric"]),
                    op=str(value.get("op", ">=")),
                    threshold=float(value["threshold"]),
                    split=str(value.get("split", "test")),
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise InvalidRequest(
                    "A success criterion needs 'metric', 'op' and a numeric 'threshold'; "
                    f"got {value!r}."
                ) from exc
        else:
            m = _TEXT.match(str(value))
            if not m:
                raise InvalidRequest(
                    f"Cannot read the success criterion {value!r}; write it like "
                    "'roc_auc>=0.80@test' or 'mape<=5%@test'."
                )
            raw = m["threshold"]
            threshold = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
            crit = cls(m["metric"], m["op"], threshold, m["split"] or "test")
        if crit.op not in _OPS:
            raise InvalidRequest(f"Unknown comparison {crit.op!r}; use one of >=, <=, >, <.")
        if crit.split not in ("train", "validation", "test"):
            raise InvalidRequest(f"Unknown split {crit.split!r}; use train, validation or test.")
        if not math.isfinite(crit.threshold):
            raise InvalidRequest("A success criterion's threshold must be a finite number.")
        return crit

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.threshold:g} on {self.split}"

    def check(self, metrics: dict[str, float]) -> dict[str, Any]:
        """Judge flat metrics (``{"test.roc_auc": 0.83}``); ``passed`` is None when missing."""
        value = metrics.get(f"{self.split}.{self.metric}")
        passed = None if value is None else bool(_OPS[self.op](value, self.threshold))
        return {**self.to_dict(), "value": value, "passed": passed, "text": str(self)}


def evaluate_criteria(criteria: list[dict[str, Any]], metrics: dict[str, float]) -> dict[str, Any]:
    """Judge every criterion; overall ``passed``: False if any fails, None if any is unmeasured."""
    results = [Criterion.parse(c).check(metrics) for c in criteria]
    if not results:
        return {"passed": None, "results": []}
    if any(r["passed"] is False for r in results):
        passed: bool | None = False
    elif any(r["passed"] is None for r in results):
        passed = None
    else:
        passed = True
    return {"passed": passed, "results": results}


def nest_metrics(flat: dict[str, float]) -> dict[str, dict[str, float]]:
    """``{"test.roc_auc": x}`` → ``{"test": {"roc_auc": x}}`` (no split: under "")."""
    out: dict[str, dict[str, float]] = {}
    for name, value in flat.items():
        split, _, metric = name.partition(".") if "." in name else ("", "", name)
        out.setdefault(split, {})[metric] = value
    return out
