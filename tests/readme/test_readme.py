"""README.md runs as written: its shell and Python blocks, in order, against a fresh home.

The shell blocks share one bash session (``set -euo pipefail``), the Python blocks one
interpreter started in the shell's folder; both use this tree's ``.venv`` (``shipyard`` on
``PATH``), a fresh ``SHIPYARD_HOME`` and a free ``SHIPYARD_PORT``, in an empty folder. A
block is skipped only when README.md marks it, and the run lists what it skipped. The
configuration table must name every ``SHIPYARD_*`` variable the code reads, and only those.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from readme.conftest import SKIPPED
from readme.runner import Block, BlockFailed, ReadmeError, parse, run_blocks
from shipyard.runtime import _contract
from shipyard.testing import free_port

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SRC = ROOT / "src" / "shipyard"
BIN = Path(sys.executable).parent  # the tree's .venv/bin: `shipyard` is there


def fresh_env(home: Path) -> dict[str, str]:
    """The environment a new user has: no Shipyard settings but a home and a port of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env.update(SHIPYARD_HOME=str(home), SHIPYARD_PORT=str(free_port()),
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    return env


# -- the parser ---------------------------------------------------------------------------
SAMPLE = """# Title

<!-- readme-test: skip (needs a browser) -->
```sh
open http://localhost
```

Text.

```bash
X=1
```

~~~python
print("hi")
~~~

<!-- readme-test: skip (an example of output) -->

```text
output
```
"""


def test_blocks_come_in_order_with_their_lines_and_skip_reasons() -> None:
    blocks = parse(SAMPLE)
    assert [(b.kind, b.line, b.skip) for b in blocks] == [
        ("shell", 5, "needs a browser"), ("shell", 11, None), ("python", 15, None),
        ("other", 21, "an example of output")]
    assert blocks[1].code == "X=1\n"


@pytest.mark.parametrize(("text", "words"), [
    ("```sh\nls\n", "never closed"),
    ("```text\nout\n```\n", "neither shell nor Python"),
    ("<!-- readme-test: skip (why) -->\nSome prose.\n```sh\nls\n```\n", "not followed by"),
    ("<!-- readme-test: skip (why) -->\n", "not followed by"),
    ("<!-- readme-test: skip -->\n```sh\nls\n```\n", "must read"),
    ("<!-- readme-test: run (why) -->\n```sh\nls\n```\n", "must read"),
])
def test_a_readme_the_test_cannot_trust_is_refused(text: str, words: str) -> None:
    with pytest.raises(ReadmeError, match=words):
        parse(text)


# -- the runner ---------------------------------------------------------------------------
def test_state_carries_over_and_a_failing_command_fails_its_block(tmp_path: Path) -> None:
    env = fresh_env(tmp_path / "home")
    good = parse("```sh\nmkdir -p sub && cd sub\nGREETING=hello\necho \"$GREETING\" > a.txt\n"
                 "```\n\n```python\nfrom pathlib import Path\nseen = Path('a.txt').read_text()\n"
                 "```\n\n```sh\ntest \"$GREETING\" = hello\n```\n\n```python\n"
                 "assert seen == 'hello\\n', seen\nseen\n```\n")
    outcome = run_blocks(good, tmp_path / "work", env, tmp_path / "logs", timeout=60)
    assert len(outcome.ran) == 4 and not outcome.skipped
    assert "'hello\\n'" in (tmp_path / "logs" / "python.log").read_text()  # displayed

    for text, line in (("```sh\ntrue\nfalse\necho never\n```\n", 2),
                       ("```sh\necho $UNSET_VARIABLE\n```\n", 2),
                       ("```sh\nfalse | cat\n```\n", 2),
                       ("```sh\nX=$(false; echo y)\n```\n", 2),
                       ("\n```python\nx = 1\n1 / 0\n```\n", 3)):
        with pytest.raises(BlockFailed, match=f"line {line}") as err:
            run_blocks(parse(text), tmp_path / "w2", env, tmp_path / "logs2", timeout=60)
        assert "README block at line" in str(err.value)
    with pytest.raises(BlockFailed, match="did not finish within 2 s"):
        run_blocks(parse("```sh\nsleep 30\n```\n"), tmp_path / "w3", env, tmp_path / "logs3",
                   timeout=2)


# -- the configuration table --------------------------------------------------------------
def _variables_read() -> set[str]:
    """Every SHIPYARD_* name the code spells, less the job runtime contract's (set for jobs)."""
    contract = {v for k, v in vars(_contract).items() if k.startswith("ENV_")}
    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        found |= set(re.findall(r"""["'](SHIPYARD_[A-Z0-9_]*[A-Z0-9])["']""", path.read_text()))
    return found - contract


def _table_variables() -> set[str]:
    text = README.read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [ln for ln in section.splitlines() if ln.startswith("| `SHIPYARD_")]
    return {v for row in rows for v in re.findall(r"`(SHIPYARD_[A-Z0-9_]+)`",
                                                   row.split("|")[1])}


def test_the_configuration_table_names_every_variable_the_code_reads() -> None:
    read, listed = _variables_read(), _table_variables()
    assert {"SHIPYARD_HOME", "SHIPYARD_PORT", "SHIPYARD_DATABASE_URL"} <= read  # the scan works
    assert not read - listed, f"add to README.md's configuration table: {sorted(read - listed)}"
    assert not listed - read, f"README.md lists variables nothing reads: {sorted(listed - read)}"


def test_the_readme_opens_with_make_demo_and_make_test() -> None:
    first = parse(README.read_text())[0]
    assert [ln.split("#")[0].strip() for ln in first.code.splitlines()] == \
        ["make demo", "make test"]


# -- the README itself --------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_the_readme_runs_as_written_top_to_bottom(tmp_path: Path) -> None:
    assert (BIN / "shipyard").exists(), f"no shipyard in {BIN}; run `make install`"
    blocks = parse(README.read_text())
    home = tmp_path / "home"
    env = fresh_env(home)
    try:
        outcome = run_blocks(blocks, tmp_path / "work", env, tmp_path / "logs")
    finally:
        # Whatever happened, no server of this home outlives the test (stop is idempotent).
        subprocess.run([str(BIN / "shipyard"), "server", "stop"], env=env,
                       capture_output=True, timeout=120)
        SKIPPED[:] = [(b.line, b.skip or "", b.describe()) for b in blocks if b.skip]
    kinds = [b.kind for b in outcome.ran]
    assert kinds.count("shell") >= 2 and kinds.count("python") >= 1, kinds
    for block in outcome.skipped:
        print(f"skipped README block at {block.describe()}: {block.skip}")
    ran: list[Block] = outcome.ran
    # The quick start produced what it says it does, in the folder it made.
    work = tmp_path / "work" / "churn-demo"
    assert (work / "report.html").stat().st_size > 0 and (work / "profile.html").exists()
    assert ran[-1].code.strip().startswith("shipyard server stop")
