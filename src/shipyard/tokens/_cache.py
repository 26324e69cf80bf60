"""The auth cache: recent token decisions, so a busy client costs no store query.

A decision is kept for :data:`CACHE_SECONDS`. Revoking a token in this process
forgets its entries at once, and a lookup that was already in flight when the
revocation committed does not put its stale answer back (the generation check), so
the revocation holds from the next request on. Another process on the same
database (a replica, ``shipyard tokens reset-admin``) cannot reach this cache:
there the bound is the cache lifetime.
"""

from __future__ import annotations

import threading
import time

from shipyard.tokens._roles import Principal

#: How long a decision is kept; a revocation made by another process takes effect
#: within this many seconds.
CACHE_SECONDS = 1.0
#: Entries kept at most; the cache is emptied when it grows past this.
MAX_ENTRIES = 10_000


class AuthCache:
    """Token hash → (when, principal or None), safe to use from several threads."""

    def __init__(self, seconds: float = CACHE_SECONDS) -> None:
        self.seconds = seconds
        self._entries: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()
        self._generation = 0

    @property
    def generation(self) -> int:
        """Read before a store lookup and passed to :meth:`put` after it."""
        return self._generation

    def get(self, token_hash: str) -> tuple[bool, Principal | None]:
        """(hit, principal): a hit may be a cached refusal (None)."""
        hit = self._entries.get(token_hash)
        if hit is not None and time.monotonic() - hit[0] < self.seconds:
            return True, hit[1]
        return False, None

    def put(self, token_hash: str, principal: Principal | None, generation: int) -> None:
        """Keep a decision, unless a revocation happened since its lookup began."""
        with self._lock:
            if generation != self._generation:
                return
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[token_hash] = (time.monotonic(), principal)

    def forget(self, name: str) -> None:
        """Drop every decision that let token ``name`` in (called after its revocation)."""
        with self._lock:
            self._generation += 1
            for key in [k for k, (_, p) in self._entries.items() if p and p.name == name]:
                del self._entries[key]
