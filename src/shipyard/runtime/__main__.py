"""``python -m shipyard.runtime JOB_DIR``: run a job's script under the runtime contract."""

import sys

from shipyard.runtime._bootstrap import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
