"""Script mode: run the user's ``code/<script>`` as ``__main__`` under the runtime contract.

The entry point of every job kind that runs a user's own script (the kinds name it
as ``shipyard.runtime._script:main``; this module knows none of them).
Whatever the script raises is its failure (``script_error``, or ``memory_limit``
for a MemoryError), written to ``output/failure`` unless the script wrote its own.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import traceback
from pathlib import Path

from shipyard.runtime import _contract as c
from shipyard.runtime._bootstrap import write_failure
from shipyard.runtime._failure import failure_sentence, user_frame


def main(job_dir: Path) -> int:
    config = json.loads((job_dir / c.JOB_FILE).read_text(encoding="utf-8"))
    script = job_dir / c.CODE_DIR / str(config.get("script"))
    os.chdir(job_dir)
    sys.path.insert(0, str(job_dir / c.CODE_DIR))
    sys.argv = [str(script)]
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:
        if exc.code in (None, 0):
            return 0
        code = exc.code if isinstance(exc.code, int) else 1
        if not (job_dir / c.FAILURE_FILE).exists():
            detail = "" if isinstance(exc.code, int) else f": {exc.code}"
            write_failure(job_dir, c.SCRIPT_ERROR,
                          f"The script exited with code {code}{detail}.")
        return code
    except MemoryError as exc:
        sys.stderr.write(traceback.format_exc())
        where = user_frame(exc, job_dir / c.CODE_DIR)
        at = f" at {where}" if where else ""
        write_failure(job_dir, c.MEMORY_LIMIT,
                      f"The script ran out of memory (MemoryError){at}; ask for more memory "
                      "in resources.memory or use less.")
        return 1
    except BaseException as exc:  # noqa: BLE001 - any error of the user's script is its failure
        sys.stderr.write(traceback.format_exc())
        write_failure(job_dir, c.SCRIPT_ERROR, failure_sentence(exc, job_dir / c.CODE_DIR))
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return 0
