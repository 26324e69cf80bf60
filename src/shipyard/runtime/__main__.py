"""``python -m shipyard.runtime JOB_DIR``: run a job under the runtime contract.

``python -m shipyard.runtime --spare`` starts a warm runtime that waits for a job
(see :mod:`shipyard.runtime._spare`).
"""

import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["--spare"]:
        from shipyard.runtime._spare import serve

        sys.exit(serve(sys.argv[2:]))
    from shipyard.runtime._bootstrap import main

    sys.exit(main(sys.argv[1:]))
