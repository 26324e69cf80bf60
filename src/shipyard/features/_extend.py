"""A training job's recipe as the user wrote it: the default plus steps, or steps in full.

``{"steps": [...]}`` replaces the default recipe whole (as it always did).
``{"extends": "default", "steps": [...], "drop": [...]}`` keeps the default and adds
to it. The order rule, chosen so each step sees the columns a user would expect:

1. ``drop``: the columns listed are removed first; the default never sees them.
2. The user's steps, in the order given, on the raw columns: an ``expression`` reads
   the columns as uploaded, ``datetime_parts`` or ``tfidf`` with the user's params
   replace the default's handling of their column, an ``impute`` (knn, say) fills
   before the default would.
3. The default recipe, built on the training rows *as those steps left them*: so it
   imputes and encodes the columns the user's steps made (a ratio with gaps gets the
   median and an indicator), and leaves alone what they already made numeric. When
   the user's steps scale, the default does not scale again.
4. ``balance`` and ``select`` run last: they need the numeric, complete features the
   default makes (SMOTE interpolates numbers; selection judges numeric columns).

``"target_transform": "log"`` (either form) has a regression model learn ``log(1 + y)``
and turns its predictions back (:mod:`shipyard.features._target`).

Pure: a dict and a DataFrame in, a :class:`Recipe` and notes out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.features._default import default_recipe
from shipyard.features._recipe import Recipe, StepSpec
from shipyard.features._steps import MISSING_SUFFIX
from shipyard.features._target import check_name
from shipyard.names import did_you_mean

#: What a recipe may extend.
BASES = ("default",)
#: Steps that need the default's numeric, complete features, so they run after it.
AFTER_DEFAULT = frozenset({"balance", "select"})
_KEYS = ("format_version", "extends", "steps", "drop", "target_transform")


def _step(i: int, d: Any) -> StepSpec:
    try:
        return StepSpec.from_dict(d)
    except InvalidRequest as exc:
        name = d.get("step") if isinstance(d, Mapping) else None
        own = f"Recipe step {name!r}"
        if isinstance(name, str) and exc.message.startswith(own):
            message = f"Recipe step {i + 1} ({name!r})" + exc.message[len(own):]
        else:
            message = f"Recipe step {i + 1}: {exc.message}"
        raise InvalidRequest(message) from None


def _names(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise InvalidRequest(f"The recipe's {what!r} must be a list of column names; "
                             f"got {value!r}.")
    return tuple(dict.fromkeys(value))


def add_drops(recipe: Mapping[str, Any] | None,
              columns: Sequence[str] | None) -> dict[str, Any] | None:
    """A training job's ``recipe`` (JSON; None: the default recipe) with ``columns`` added
    to its ``drop`` list: with no recipe, ``{"extends": "default", "drop": [...]}``."""
    names = [str(c) for c in columns or []]
    if recipe is None:
        return {"extends": "default", "drop": names} if names else None
    out = dict(recipe)
    if names:
        given: list[Any] = out["drop"] if isinstance(out.get("drop"), list) else []
        out["drop"] = list(dict.fromkeys([*given, *names]))
    return out


@dataclass(frozen=True)
class UserRecipe:
    """A recipe as a training job received it; :meth:`resolve` makes the one to fit."""

    steps: tuple[StepSpec, ...]
    extends: str | None = None
    drop: tuple[str, ...] = ()
    #: A regression target's transform (``"log"``): :mod:`shipyard.features._target`.
    target_transform: str | None = None

    @classmethod
    def from_dict(cls, d: Any) -> UserRecipe:
        """Read and check a recipe object (nothing about the data: see :meth:`unknown_columns`).

        Raises:
            InvalidRequest: not an object, an unknown key or base, a bad step (the
                message names the step by its position and name).
        """
        if not isinstance(d, Mapping):
            raise InvalidRequest(
                'A recipe must be an object such as {"extends": "default", "steps": [...]} '
                f'or {{"steps": [...]}}; got {type(d).__name__}.')
        unknown = [k for k in d if k not in _KEYS]
        if unknown:
            raise InvalidRequest(
                f"A recipe has no field {unknown[0]!r};{did_you_mean(str(unknown[0]), _KEYS)} "
                f"Its fields are {', '.join(_KEYS)}.")
        extends = d.get("extends")
        if extends is not None and extends not in BASES:
            raise InvalidRequest(
                f"A recipe can extend {' or '.join(repr(b) for b in BASES)}; got "
                f"{extends!r}.{did_you_mean(str(extends), BASES)}")
        steps = d.get("steps")
        transform = check_name(d.get("target_transform"))
        if steps is None and extends is None:
            raise InvalidRequest(
                'A recipe needs a \'steps\' list (it replaces the default), or "extends": '
                '"default" to add steps to the default recipe.')
        if steps is not None and not isinstance(steps, list):
            raise InvalidRequest(f"The recipe's 'steps' must be a list of steps; got "
                                 f"{type(steps).__name__}.")
        return cls(steps=tuple(_step(i, s) for i, s in enumerate(steps or [])),
                   extends=extends, drop=_names(d.get("drop"), "drop"),
                   target_transform=transform)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"steps": [s.to_dict() for s in self.steps]}
        if self.extends:
            out["extends"] = self.extends
        if self.drop:
            out["drop"] = list(self.drop)
        if self.target_transform:
            out["target_transform"] = self.target_transform
        return out

    def references(self) -> list[tuple[str, str]]:
        """``(where, column)`` for every column the recipe names, in the order it is used."""
        refs = [("drop", c) for c in self.drop]
        for i, spec in enumerate(self.steps):
            where = f"step {i + 1} ({spec.step})"
            refs.extend((where, c) for c in spec.columns or ())
            built = spec.build()
            expression = getattr(built, "expression", None)
            if expression is not None:
                refs.extend((where, c) for c in expression.columns)
            ref_col = spec.params.get("reference_column")
            if isinstance(ref_col, str):
                refs.append((where, ref_col))
        return refs

    def unknown_columns(self, columns: Sequence[str]) -> list[tuple[str, str]]:
        """The references to columns that neither the data nor an earlier step makes.

        A column an earlier step derives (an expression's ``name``, ``<col>.<part>``,
        ``<col>=<label>``, ``<col>.tfidf.<term>``, ``<col>__missing``) counts as known,
        since its exact name depends on the data.
        """
        known = set(columns)
        made: set[str] = set()
        for spec in self.steps:
            if spec.step == "expression" and isinstance(spec.params.get("name"), str):
                made.add(spec.params["name"])
        bad = []
        for where, col in self.references():
            if col in known or col in made or _derived(col, known | made):
                continue
            bad.append((where, col))
        return bad

    def resolve(self, train: pd.DataFrame, target: str | None, *, scale: bool,
                categorical: str = "onehot", **default_options: Any,
                ) -> tuple[Recipe, list[str]]:
        """The recipe to fit on ``train`` (the training split), and notes for the job log.

        ``scale``, ``categorical`` and ``default_options`` are :func:`default_recipe`'s.
        """
        head = (StepSpec("drop", self.drop),) if self.drop else ()
        dropped = [f"dropped {c}: listed in the recipe's drop list (--drop)" for c in self.drop]
        if not self.extends:
            dropping = f", dropping {', '.join(self.drop)} first" if self.drop else ""
            return Recipe((*head, *self.steps)), [
                f"the user's ({len(self.steps)} steps{dropping})", *dropped]
        before = (*head, *(s for s in self.steps if s.step not in AFTER_DEFAULT))
        after = tuple(s for s in self.steps if s.step in AFTER_DEFAULT)
        frame = _partial(train, target, before)
        user_scales = any(s.step == "scale" for s in before)
        default, notes = default_recipe(frame, target, scale=scale and not user_scales,
                                        categorical=categorical, **default_options)
        intro = [f"the default recipe, extended: {', '.join(self.drop)} dropped first"
                 if self.drop else "the default recipe, extended"]
        if len(before) > len(head):
            intro.append("the user's steps (" + ", ".join(s.step for s in before[len(head):])
                         + ") run first, on the raw columns")
        if scale and user_scales:
            intro.append("the default does not scale again: the user's recipe scales")
        if after:
            intro.append("the user's steps (" + ", ".join(s.step for s in after)
                         + ") run last, on the default's features")
        return Recipe((*before, *default.steps, *after)), [*intro, *dropped, *notes]


def extending_recipe(steps: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Suggested steps (a profile's) as a recipe that extends the default.

    ``drop`` steps become the recipe's ``drop`` list (read first, as a user would);
    the rest stay steps, in order. The result is checked to read as a recipe.
    """
    drop: list[str] = []
    kept: list[dict[str, Any]] = []
    for step in steps:
        if step.get("step") == "drop" and step.get("columns"):
            drop.extend(c for c in step["columns"] if c not in drop)
        else:
            kept.append(dict(step))
    out: dict[str, Any] = {"extends": "default", "steps": kept}
    if drop:
        out["drop"] = drop
    UserRecipe.from_dict(out)
    return out


def _derived(col: str, known: set[str]) -> bool:
    if col.endswith(MISSING_SUFFIX) and col[: -len(MISSING_SUFFIX)] in known:
        return True
    for sep in (".", "="):
        head = col
        while sep in head:
            head = head.rsplit(sep, 1)[0]
            if head in known:
                return True
    return False


def _partial(train: pd.DataFrame, target: str | None,
             steps: Sequence[StepSpec]) -> pd.DataFrame:
    """The training rows after ``steps`` (fitted on them), the target kept as it was."""
    if not steps:
        return train
    raw = train.reset_index(drop=True)
    y = raw[target] if target is not None and target in raw.columns else None
    frame = raw.drop(columns=[target]) if y is not None else raw
    for spec in steps:
        _, frame, y = spec.build().fit_transform(frame, y)
    if y is not None and target is not None:
        frame = frame.assign(**{target: y.to_numpy()})
    return frame
