"""Reading a job's log incrementally (``GET /jobs/{id}/logs?offset=N``)."""

from __future__ import annotations

import codecs
import time
from collections.abc import Iterator
from urllib.parse import quote

from shipyard.client._client import Client

TERMINAL = frozenset({"Completed", "Failed", "Stopped"})
NEXT_OFFSET = "X-Shipyard-Next-Offset"
JOB_STATUS = "X-Shipyard-Job-Status"


class LogReader:
    """Reads a job's log from a byte offset on, decoding UTF-8 across chunk boundaries."""

    def __init__(self, client: Client, job_id: str, offset: int = 0) -> None:
        self.client = client
        self.path = f"/jobs/{quote(job_id, safe='')}/logs"
        self.offset = offset
        self.status: str | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def read(self, max_requests: int = 50) -> str:
        """Everything written since the last read (several requests if the server pages it)."""
        out: list[str] = []
        for _ in range(max_requests):
            r = self.client.request("GET", self.path, params={"offset": self.offset})
            self.status = r.headers.get(JOB_STATUS, self.status)
            nxt = r.headers.get(NEXT_OFFSET)
            new_offset = int(nxt) if nxt and nxt.isdigit() else self.offset + len(r.content)
            if new_offset <= self.offset and not r.content:
                break
            self.offset = new_offset
            out.append(self._decoder.decode(r.content))
        return "".join(out)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def follow(self, poll_interval: float = 0.5) -> Iterator[str]:
        """Yield new text until the job is terminal and the log is drained."""
        while True:
            text = self.read()
            if text:
                yield text
            elif self.terminal:
                tail = self._decoder.decode(b"", final=True)
                if tail:
                    yield tail
                return
            else:
                time.sleep(poll_interval)
