"""The package's public surface, and that importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import shipyard.monitoring as monitoring


def test_public_names_are_exported() -> None:
    for name in monitoring.__all__:
        assert getattr(monitoring, name) is not None, name
    assert sorted(monitoring.__all__) == sorted(set(monitoring.__all__))


def test_import_pulls_in_neither_scipy_nor_httpx_nor_the_store() -> None:
    code = ("import sys, shipyard.monitoring; "
            "print(sorted(m for m in ('scipy.stats', 'scipy.spatial', 'httpx', 'matplotlib', "
            "'sqlalchemy', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
