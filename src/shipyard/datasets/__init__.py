"""Datasets (placeholder: being built)."""
from typing import Any


class DatasetService:
    def __init__(self, *a: Any) -> None: ...
