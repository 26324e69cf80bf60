"""An ensemble bundle: member bundles and their weights, served as one model.

The folder::

    MODEL.json                 framework "ensemble"; ``members``: [{path, weight}, ...]
    members/00/MODEL.json      a whole bundle per member, its own recipe and model file
    members/00/recipe.json
    members/00/model.txt
    members/01/...

The top-level MODEL.json lists *every* file under ``members/`` with its SHA-256 (the
members' own MODEL.json included), so the ensemble is verified as one bundle; each member
is then checked as a bundle of its own (its recipe, its framework's native safe format),
and loaded the way :func:`shipyard.bundle.load_bundle` loads any bundle. Nothing is
unpickled. A member is never itself an ensemble.

A member's path is not free text: it must be ``members/<two or more digits>``, so no
name in MODEL.json becomes a path outside the folder.

Predictions are the weighted mean of the members' outputs: class probabilities for a
classifier (every member has the same classes, in the same order), values for a
regressor. Each member reads the raw rows through its own recipe, so members may be
built on different recipes (AutoML's recipe variants); the ensemble's input signature is
the union of the members' (a column is required when any member requires it).
"""

from __future__ import annotations

import math
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shipyard.bundle._frameworks import Outputs
from shipyard.bundle._manifest import BundleError, read_manifest, write_bundle

#: ``framework.name`` of an ensemble bundle.
ENSEMBLE = "ensemble"
#: Where the members' bundles sit inside the ensemble's folder.
MEMBERS_DIR = "members"
#: Most members an ensemble holds (Caruana selection keeps far fewer).
MAX_MEMBERS = 64
#: The tasks an ensemble can average over.
ENSEMBLE_TASKS = ("classification", "regression")
_MEMBER_PATH = re.compile(rf"^{MEMBERS_DIR}/[0-9]{{2,3}}$")


def is_ensemble(manifest: Mapping[str, Any]) -> bool:
    """Whether MODEL.json ``manifest`` describes an ensemble bundle."""
    fw = manifest.get("framework")
    name = fw.get("name") if isinstance(fw, Mapping) else fw
    return name == ENSEMBLE


def merged_signature(signatures: Sequence[Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """The union of the members' input signatures, in first-seen order.

    Raises:
        BundleError: two members read one column as different semantic types.
    """
    merged: dict[str, dict[str, Any]] = {}
    for signature in signatures:
        for entry in signature:
            name = str(entry["name"])
            seen = merged.get(name)
            if seen is None:
                merged[name] = dict(entry)
                continue
            if seen.get("semantic_type") != entry.get("semantic_type"):
                raise BundleError(
                    f"Members read column {name!r} as {seen.get('semantic_type')!r} and as "
                    f"{entry.get('semantic_type')!r}; an ensemble's members must agree on "
                    "each input column's type.")
            seen["required"] = bool(seen.get("required", True)) or bool(
                entry.get("required", True))
    return list(merged.values())


def _weights(raw: Sequence[Any]) -> list[float]:
    weights: list[float] = []
    for w in raw:
        if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) \
                or w <= 0:
            raise BundleError(f"An ensemble member's weight must be a positive number; got "
                              f"{w!r}.")
        weights.append(float(w))
    total = sum(weights)
    return [w / total for w in weights]


def _member_entries(manifest: Mapping[str, Any]) -> list[tuple[str, float]]:
    members = manifest.get("members")
    if not isinstance(members, list) or not members:
        raise BundleError("An ensemble's MODEL.json must list its members as "
                          "[{\"path\": \"members/00\", \"weight\": 1.0}, ...].")
    if len(members) > MAX_MEMBERS:
        raise BundleError(f"An ensemble holds at most {MAX_MEMBERS} members; MODEL.json lists "
                          f"{len(members)}.")
    paths: list[str] = []
    for m in members:
        path = m.get("path") if isinstance(m, Mapping) else None
        if not isinstance(path, str) or not _MEMBER_PATH.match(path):
            raise BundleError(f"Ensemble member path {path!r} is not of the form "
                              f"'{MEMBERS_DIR}/00'.")
        if path in paths:
            raise BundleError(f"Ensemble member {path!r} is listed twice.")
        paths.append(path)
    weights = _weights([m.get("weight") for m in members])
    return list(zip(paths, weights, strict=True))


def check_members(path: Path, manifest: Mapping[str, Any]) -> list[tuple[Path, float,
                                                                         dict[str, Any]]]:
    """The members of the (already verified) ensemble at ``path``: folder, weight, MODEL.json.

    The top-level files' SHA-256 were checked by the caller; here the shape: at least
    one member, paths of the fixed form, positive weights, no nested ensemble, one task
    and target, and the same classes in the same order.
    """
    task = manifest["task"]
    if task not in ENSEMBLE_TASKS:
        raise BundleError(f"An ensemble averages classifiers or regressors; its task is "
                          f"{task!r}.")
    listed = manifest["files"]
    out: list[tuple[Path, float, dict[str, Any]]] = []
    for rel, weight in _member_entries(manifest):
        if f"{rel}/MODEL.json" not in listed:
            raise BundleError(f"Ensemble member {rel!r} has no MODEL.json among the files the "
                              "ensemble's MODEL.json lists with their SHA-256.")
        folder = path / rel
        member = read_manifest(folder)
        if is_ensemble(member):
            raise BundleError(f"Ensemble member {rel!r} is itself an ensemble; members are "
                              "plain bundles.")
        if member["task"] != task:
            raise BundleError(f"Ensemble member {rel!r} is a {member['task']} model; the "
                              f"ensemble is {task}.")
        if member.get("target") != manifest.get("target"):
            raise BundleError(f"Ensemble member {rel!r} predicts {member.get('target')!r}; the "
                              f"ensemble predicts {manifest.get('target')!r}.")
        if task == "classification" and list(member.get("classes") or []) != list(
                manifest.get("classes") or []):
            raise BundleError(f"Ensemble member {rel!r} has classes {member.get('classes')}; "
                              f"the ensemble's are {manifest.get('classes')} (same order).")
        out.append((folder, weight, member))
    return out


def write_ensemble(dest: Path, members: Sequence[tuple[Path, float]], *,
                   manifest: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Write an ensemble bundle of the bundles ``members`` (folder, weight) under ``dest``.

    ``dest`` must be missing or empty. Each member folder is checked as a bundle first
    (:func:`shipyard.bundle.check_bundle`) and copied whole; the ensemble's task, target,
    classes and problem type are the members' (which must agree). ``manifest`` adds
    fields (metrics, lineage, a description); it cannot override the members or the
    framework.

    Raises:
        BundleError: a member is not a valid bundle, or the members do not agree.
    """
    from shipyard.bundle._pipeline import check_bundle, member_signature

    if not members:
        raise BundleError("An ensemble needs at least one member.")
    if len(members) > MAX_MEMBERS:
        raise BundleError(f"An ensemble holds at most {MAX_MEMBERS} members; got "
                          f"{len(members)}.")
    weights = _weights([w for _, w in members])
    manifests = [check_bundle(Path(folder)) for folder, _ in members]
    for (folder, _), member in zip(members, manifests, strict=True):
        if is_ensemble(member):
            raise BundleError(f"Bundle {Path(folder).name!r} is itself an ensemble; an "
                              "ensemble's members are plain bundles.")
    first = manifests[0]
    signature = merged_signature([member_signature(Path(f)) for f, _ in members])
    files: dict[str, bytes | Path] = {}
    entries = []
    for i, ((folder, _), weight) in enumerate(zip(members, weights, strict=True)):
        rel = f"{MEMBERS_DIR}/{i:02d}"
        entries.append({"path": rel, "weight": weight,
                        "algorithm": manifests[i].get("algorithm")})
        files[f"{rel}/MODEL.json"] = Path(folder) / "MODEL.json"
        for name in manifests[i]["files"]:
            files[f"{rel}/{name}"] = Path(folder) / name
    body = {**dict(manifest or {}),
            "task": first["task"], "target": first.get("target"),
            "problem_type": first.get("problem_type"), "classes": first.get("classes"),
            "output_schema": first.get("output_schema"),
            "algorithm": ENSEMBLE, "framework": {"name": ENSEMBLE},
            "recipe": None, "model_files": [], "members": entries,
            "input_signature": signature}
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BundleError(f"{dest} is not an empty folder; an ensemble is written into a "
                          "new or empty one (nothing already there is replaced).")
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        out = write_bundle(tmp, manifest=body, files=files)
        check_members(tmp, out)  # the members agree (task, target, classes)
        os.replace(tmp, dest)  # onto a missing or empty folder: all of it or nothing
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def weighted_outputs(task: str, parts: Sequence[tuple[float, Outputs]]) -> Outputs:
    """The weighted mean of the members' outputs (probabilities or values)."""
    key = "proba" if task == "classification" else "value"
    total = None
    for weight, out in parts:
        value = weight * np.asarray(out[key], dtype="float64")
        total = value if total is None else total + value
    assert total is not None
    return {key: total}

