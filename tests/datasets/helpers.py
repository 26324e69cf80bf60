"""Shared helpers of the dataset tests."""

from __future__ import annotations

from collections.abc import Callable

import httpx

#: ``upload(name, [(filename, bytes)], append=False, headers=None, via=None, **form_fields)``
Upload = Callable[..., httpx.Response]
