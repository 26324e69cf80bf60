"""The search space of a tuning job: from an algorithm's declared hyperparameters and ``--range``.

Pure: declarations and the request's ranges in, a frozen :class:`SearchSpace` out (or an
:class:`~shipyard.errors.InvalidRequest` naming the bad hyperparameter or range, so a
tuning job is refused with a 400 before any trial exists).

The default space holds every declared hyperparameter that has a domain to search: a
number over its declared search domain (``Hyperparameter.search``: where good settings
are, e.g. 50 to 1,000 boosting rounds) or else both its bounds, a categorical one or a
boolean; one declared ``tuned=False`` is left out.
Hyperparameters whose default is None ("off", e.g. ``early_stopping_rounds``) stay off
unless a range names them. A range replaces or adds a dimension:

* ``LOW:HIGH`` or ``LOW:HIGH:log`` for an int or float hyperparameter, inside its declared
  bounds (``log`` needs LOW > 0);
* ``a,b,c`` (or a JSON list) for any hyperparameter: the values to choose among, each
  valid for the declaration.

A hyperparameter given a fixed value (``hyperparameters``) is not searched.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shipyard.errors import InvalidRequest
from shipyard.names import did_you_mean
from shipyard.training._hyperparameters import Hyperparameter

#: Points per numeric dimension of a grid search (all of them for a short integer range).
GRID_POINTS = 4


@dataclass(frozen=True)
class Dimension:
    """One searched hyperparameter: a numeric range or a list of choices."""

    name: str
    type: str  # "int" | "float" | "categorical"
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.type == "categorical":
            return {"name": self.name, "type": self.type, "choices": list(self.choices or ())}
        return {"name": self.name, "type": self.type, "low": self.low, "high": self.high,
                "log": self.log}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Dimension:
        choices = data.get("choices")
        return cls(name=str(data["name"]), type=str(data["type"]), low=data.get("low"),
                   high=data.get("high"), log=bool(data.get("log")),
                   choices=tuple(choices) if choices is not None else None)

    def grid(self) -> list[Any]:
        """The values a grid search tries along this dimension."""
        if self.choices is not None:
            return list(self.choices)
        low, high = float(self.low or 0), float(self.high or 0)
        if self.type == "int" and high - low + 1 <= GRID_POINTS:
            return list(range(int(low), int(high) + 1))
        if self.log:
            step = (math.log(high) - math.log(low)) / (GRID_POINTS - 1)
            points = [math.exp(math.log(low) + i * step) for i in range(GRID_POINTS)]
        else:
            points = [low + i * (high - low) / (GRID_POINTS - 1) for i in range(GRID_POINTS)]
        points[0], points[-1] = low, high  # exactly the bounds, not a rounding of them
        if self.type == "int":
            return sorted({int(round(p)) for p in points})
        return points


@dataclass(frozen=True)
class SearchSpace:
    """The dimensions a tuning job searches, in declaration order."""

    dimensions: tuple[Dimension, ...]

    def to_list(self) -> list[dict[str, Any]]:
        return [d.to_dict() for d in self.dimensions]

    @classmethod
    def from_list(cls, data: Sequence[Mapping[str, Any]]) -> SearchSpace:
        return cls(tuple(Dimension.from_dict(d) for d in data))

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dimensions]

    def grid(self) -> dict[str, list[Any]]:
        return {d.name: d.grid() for d in self.dimensions}

    def grid_size(self) -> int:
        return math.prod(len(v) for v in self.grid().values())


def _default_dimension(h: Hyperparameter) -> Dimension | None:
    """The declaration's default search (``Hyperparameter.search``, else its valid range)."""
    domain = h.to_dict()["search"]
    if domain is None:
        return None
    if "choices" in domain:
        return Dimension(h.name, "categorical", choices=tuple(domain["choices"]))
    low, high = (int(v) if h.type == "int" else float(v) for v in (domain["low"],
                                                                   domain["high"]))
    return Dimension(h.name, h.type, low=low, high=high, log=bool(domain["log"]))


def _bad(name: str, text: Any, why: str) -> InvalidRequest:
    return InvalidRequest(f"--range {name}={text}: {why}. Give LOW:HIGH, LOW:HIGH:log or "
                          "a,b,c within the hyperparameter's declared domain "
                          "(`shipyard algorithms show NAME` lists them).")


def _numeric(h: Hyperparameter, text: str) -> Dimension:
    parts = text.split(":")
    log = len(parts) == 3 and parts[2].strip().lower() == "log"
    if len(parts) not in (2, 3) or (len(parts) == 3 and not log):
        raise _bad(h.name, text, "a range is LOW:HIGH or LOW:HIGH:log")
    if h.type not in ("int", "float"):
        raise _bad(h.name, text, f"{h.name!r} is {h.type}, so it takes a list of values, "
                                 "not a range")
    try:
        low, high = (h.validate(p.strip()) for p in parts[:2])
    except InvalidRequest as exc:
        raise _bad(h.name, text, exc.message.rstrip(".")) from None
    if low is None or high is None or not low < high:
        raise _bad(h.name, text, "LOW must be less than HIGH")
    if log and low <= 0:
        raise _bad(h.name, text, "a log scale needs LOW > 0")
    return Dimension(h.name, h.type, low=low, high=high, log=log)


def _choices(h: Hyperparameter, values: Sequence[Any], text: Any) -> Dimension:
    if not values:
        raise _bad(h.name, text, "the list of values is empty")
    try:
        chosen = [h.validate(v.strip() if isinstance(v, str) else v) for v in values]
    except InvalidRequest as exc:
        raise _bad(h.name, text, exc.message.rstrip(".")) from None
    unique = list(dict.fromkeys(chosen))
    return Dimension(h.name, "categorical", choices=tuple(unique))


def parse_range(h: Hyperparameter, value: Any) -> Dimension:
    """One ``--range`` for the declared ``h``: ``"LOW:HIGH[:log]"``, ``"a,b,c"`` or a list.

    Raises:
        InvalidRequest: the range does not fit the declaration (type, bounds, log scale).
    """
    if isinstance(value, list | tuple):
        return _choices(h, list(value), ",".join(map(str, value)))
    if not isinstance(value, str) or not value.strip():
        raise _bad(h.name, value, "give a range as text")
    if ":" in value:
        return _numeric(h, value.strip())
    return _choices(h, value.split(","), value)


def build_space(algorithm: str, declared: Sequence[Hyperparameter],
                ranges: Mapping[str, Any], fixed: Mapping[str, Any]) -> SearchSpace:
    """The search space of a tuning job over ``algorithm``.

    Args:
        declared: the algorithm's hyperparameters.
        ranges: ``--range`` by hyperparameter name (they replace or add dimensions).
        fixed: hyperparameters given a value: not searched.

    Raises:
        InvalidRequest: a range names an unknown hyperparameter or does not fit its
            declaration, a hyperparameter is both fixed and ranged, or nothing is left
            to search.
    """
    by_name = {h.name: h for h in declared}
    for name in ranges:
        if name not in by_name:
            raise InvalidRequest(
                f"--range {name}=...: algorithm {algorithm!r} has no hyperparameter "
                f"{name!r}; its hyperparameters are {sorted(by_name)}."
                f"{did_you_mean(name, by_name)}")
        if name in fixed:
            raise InvalidRequest(f"{name!r} is given both a value and a range; keep one.")
    dims = []
    for h in declared:
        if h.name in fixed:
            continue
        dim = parse_range(h, ranges[h.name]) if h.name in ranges else _default_dimension(h)
        if dim is not None:
            dims.append(dim)
    if not dims:
        raise InvalidRequest(f"Nothing to tune: every hyperparameter of {algorithm!r} is "
                             "fixed; drop a fixed value or add a --range.")
    return SearchSpace(tuple(dims))


#: The dimension naming a trial's algorithm, in a study over several.
ALGORITHM = "algorithm"


def study_space(algorithms: Sequence[str], declared: Mapping[str, Sequence[Hyperparameter]],
                ranges: Mapping[str, Any], fixed: Mapping[str, Any]
                ) -> tuple[SearchSpace, dict[str, Any]]:
    """The search space of a study over one or several algorithms, and its fixed values.

    One algorithm: :func:`build_space`, names as declared. Several: a categorical
    ``algorithm`` dimension first, then each algorithm's own space with its names
    prefixed ``<algorithm>.`` (each trial searches only its algorithm's). A range or a
    fixed value named ``<algorithm>.<name>`` is that algorithm's; a bare ``<name>`` is
    every algorithm's that declares it. Fixed values come back named the same way.

    Raises:
        InvalidRequest: as :func:`build_space`, or a name no algorithm of the study
            declares.
    """
    if len(algorithms) == 1:
        return build_space(algorithms[0], declared[algorithms[0]], ranges, fixed), dict(fixed)
    for what, given in (("--range", ranges), ("--hp", fixed)):
        for key in given:
            algo, dot, name = key.partition(".")
            if dot and algo in algorithms:
                continue
            if not any(h.name == key for a in algorithms for h in declared[a]):
                known = sorted({h.name for a in algorithms for h in declared[a]})
                raise InvalidRequest(
                    f"{what} {key}: none of {', '.join(algorithms)} has a hyperparameter "
                    f"{key!r}; name one as ALGORITHM.NAME (e.g. {algorithms[0]}."
                    f"{declared[algorithms[0]][0].name}) or use one of {known}."
                    f"{did_you_mean(key, known)}")
    dims = [Dimension(ALGORITHM, "categorical", choices=tuple(algorithms))]
    fixed_out: dict[str, Any] = {}
    for algo in algorithms:
        names = {h.name for h in declared[algo]}
        mine_r = {k: v for k, v in ranges.items() if k in names}
        mine_f = {k: v for k, v in fixed.items() if k in names}
        for key, value in ranges.items():
            if key.startswith(f"{algo}."):
                mine_r[key.removeprefix(f"{algo}.")] = value
        for key, value in fixed.items():
            if key.startswith(f"{algo}."):
                mine_f[key.removeprefix(f"{algo}.")] = value
        space = build_space(algo, declared[algo], mine_r, mine_f)
        dims += [Dimension(f"{algo}.{d.name}", d.type, d.low, d.high, d.log, d.choices)
                 for d in space.dimensions]
        fixed_out.update({f"{algo}.{k}": v for k, v in mine_f.items()})
    return SearchSpace(tuple(dims)), fixed_out


def study_algorithms(space: SearchSpace) -> tuple[str, ...] | None:
    """The algorithms of a study over several (None: a study over one)."""
    dim = next((d for d in space.dimensions if d.name == ALGORITHM), None)
    return tuple(dim.choices or ()) if dim is not None else None


def trial_settings(space: SearchSpace, params: Mapping[str, Any], fixed: Mapping[str, Any],
                   algorithm: str) -> tuple[str, dict[str, Any]]:
    """A trial's algorithm and hyperparameters (names as the algorithm declares them) from
    the study's ``params`` and ``fixed`` values; ``algorithm``: a one-algorithm study's."""
    if study_algorithms(space) is None:
        return algorithm, {**fixed, **params}
    chosen = str(params[ALGORITHM])
    prefix = f"{chosen}."
    return chosen, {k.removeprefix(prefix): v for k, v in {**fixed, **params}.items()
                    if k.startswith(prefix)}


def space_params(space: SearchSpace, algorithm: str,
                 hyperparameters: Mapping[str, Any]) -> dict[str, Any] | None:
    """The parameters of a training job as the study names them (None: its algorithm is
    not one of the study's)."""
    algorithms = study_algorithms(space)
    if algorithms is None:
        return {n: hyperparameters[n] for n in space.names if n in hyperparameters}
    if algorithm not in algorithms:
        return None
    prefix = f"{algorithm}."
    return {ALGORITHM: algorithm, **{n: hyperparameters[n.removeprefix(prefix)]
                                     for n in space.names if n.startswith(prefix)
                                     and n.removeprefix(prefix) in hyperparameters}}


def _value(text: str) -> Any:
    """A list value of a script's range: a number, true/false, or the text itself."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text.strip())
        except ValueError:
            continue
    return text.strip()


def script_space(ranges: Mapping[str, Any], fixed: Mapping[str, Any]) -> SearchSpace:
    """The search space of a study over a script: a script declares no hyperparameters, so
    every dimension is a range. ``LOW:HIGH[:log]`` is an int range when both bounds are
    integers, else a float range; ``a,b,c`` (or a list) is a choice among the values
    (numbers and true/false read as such).

    Raises:
        InvalidRequest: no range, a bad range, or a name both fixed and ranged.
    """
    if not ranges:
        raise InvalidRequest("A study over a script searches only what its --range options "
                             "give (a script declares no hyperparameters): add one, e.g. "
                             "--range lr=0.001:0.1:log or --range optimizer=adam,sgd.")
    dims = []
    for name, value in ranges.items():
        if name in fixed:
            raise InvalidRequest(f"{name!r} is given both a value and a range; keep one.")
        if isinstance(value, list | tuple) or (isinstance(value, str) and ":" not in value):
            values = list(value) if isinstance(value, list | tuple) else value.split(",")
            chosen = [_value(v) if isinstance(v, str) else v for v in values]
            if not chosen or any(v == "" for v in chosen):
                raise _bad(name, value, "the list of values is empty")
            dims.append(Dimension(name, "categorical", choices=tuple(dict.fromkeys(chosen))))
            continue
        parts = str(value).split(":")
        log = len(parts) == 3 and parts[2].strip().lower() == "log"
        if len(parts) not in (2, 3) or (len(parts) == 3 and not log):
            raise _bad(name, value, "a range is LOW:HIGH or LOW:HIGH:log")
        low, high = (_value(p) for p in parts[:2])
        if not all(isinstance(b, int | float) and not isinstance(b, bool) for b in (low, high)):
            raise _bad(name, value, "LOW and HIGH must be numbers")
        if not low < high:
            raise _bad(name, value, "LOW must be less than HIGH")
        if log and low <= 0:
            raise _bad(name, value, "a log scale needs LOW > 0")
        kind = "int" if isinstance(low, int) and isinstance(high, int) else "float"
        dims.append(Dimension(name, kind, low=low, high=high, log=log))
    return SearchSpace(tuple(dims))
