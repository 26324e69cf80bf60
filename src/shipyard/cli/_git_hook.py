"""The git hook ``shipyard pipelines hook install`` writes into a repository.

One hook file (``post-commit`` in a working tree, ``post-receive`` in a bare repository)
serves every pipeline installed in it: each is a marker line
``# shipyard-trigger: PIPELINE TRIGGER_ID BRANCH`` and the script is written again from
those lines on each install or uninstall. After a commit to a watched branch it runs
``python -m shipyard.cli pipelines triggers fire PIPELINE --trigger ID --commit SHA``
with this very Python, so the server starts the execution (and checks the commit is on
the branch). The hook never blocks or fails a commit: the CLI runs in the background,
its output and errors go to ``shipyard-hook.log`` in the git folder, and the script
always exits 0.

No token is ever written into the hook: the CLI finds it as every command does
(``SHIPYARD_TOKEN``, else the credentials file of ``SHIPYARD_HOME``, default
``~/.shipyard``) in the environment of whoever commits. The server URL is not a secret:
the one the hook was installed with is the default when ``SHIPYARD_URL`` is unset.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HOOK_KINDS = ("post-commit", "post-receive")
HEADER = "# Written by `shipyard pipelines hook install`"
MARK = "# shipyard-trigger:"
LOG_NAME = "shipyard-hook.log"
_ENTRY = re.compile(r"^# shipyard-trigger: (\S+) (\d+) (\S+)$")


class HookError(Exception):
    """A hook cannot be installed or uninstalled; the message says why and what to do."""


@dataclass(frozen=True)
class Entry:
    pipeline: str
    trigger: int
    branch: str


@dataclass(frozen=True)
class Repository:
    """A local git repository as the hook sees it."""

    path: Path
    git_dir: Path
    hooks_dir: Path
    bare: bool

    def hook(self, kind: str) -> Path:
        return self.hooks_dir / kind


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[0]
        raise HookError(f"{str(repo)!r} is not a git repository ({why.removeprefix('fatal: ')})"
                        "; give the folder where `git init` was run.")
    return done.stdout.strip()


def repository(path: str | Path) -> Repository:
    """The repository at ``path`` (resolved), its git folder and hooks folder."""
    repo = Path(path).expanduser().resolve()
    if not repo.is_dir():
        raise HookError(f"No folder {str(path)!r}; give the path of a local git repository.")
    bare = _git(repo, "rev-parse", "--is-bare-repository") == "true"
    git_dir = Path(_git(repo, "rev-parse", "--absolute-git-dir"))
    hooks = Path(_git(repo, "rev-parse", "--git-path", "hooks"))  # honours core.hooksPath
    hooks = hooks if hooks.is_absolute() else repo / hooks
    if not bare:
        top = Path(_git(repo, "rev-parse", "--show-toplevel")).resolve()
        if top != repo:
            raise HookError(f"{str(path)!r} is inside the git repository {str(top)!r}; give "
                            "the repository's own folder.")
    return Repository(repo, git_dir, hooks.resolve(), bare)


def entries(hook: Path) -> list[Entry] | None:
    """The pipelines a hook of ours fires ([] when there is no hook); None when the file
    is someone else's hook."""
    if not hook.exists():
        return []
    text = hook.read_text(encoding="utf-8", errors="replace")
    if HEADER not in text:
        return None
    out = []
    for line in text.splitlines():
        m = _ENTRY.match(line.strip())
        if m:
            out.append(Entry(m.group(1), int(m.group(2)), m.group(3)))
    return out


def render(kind: str, items: list[Entry], log: Path, url: str | None) -> str:
    """The hook script firing ``items`` (a POSIX sh script)."""
    q = shlex.quote
    lines = [
        "#!/bin/sh",
        f"{HEADER}; `shipyard pipelines hook uninstall` deletes it.",
        "# After a commit to a watched branch it asks the Shipyard server to start the pipeline,",
        "# which checks the commit is on the branch and starts one execution per commit. It",
        f"# never blocks or fails a commit: it runs in the background and logs to {LOG_NAME}.",
        "# The token is found as by every shipyard command: SHIPYARD_TOKEN, else the",
        "# credentials file of SHIPYARD_HOME (default ~/.shipyard). No token is written here.",
        *(f"{MARK} {e.pipeline} {e.trigger} {e.branch}" for e in items),
    ]
    if url:
        lines += [f'if [ -z "${{SHIPYARD_URL:-}}" ]; then SHIPYARD_URL={q(url)}; '
                  'export SHIPYARD_URL; fi']
    lines += [
        f"log={q(str(log))}",
        "fire() {",
        "  (",
        "    echo \"$(date -u '+%Y-%m-%dT%H:%M:%SZ') commit $4 on $3: pipeline $1, "
        "trigger $2\"",
        f"    {q(sys.executable)} -m shipyard.cli pipelines triggers fire \"$1\" "
        "--trigger \"$2\" --branch \"$3\" --commit \"$4\" || echo \"(failed: exit $?)\"",
        "  ) </dev/null >>\"$log\" 2>&1 &",
        "}",
    ]
    if kind == "post-commit":
        lines += [
            'branch=$(git symbolic-ref --quiet --short HEAD 2>/dev/null) || exit 0',
            'commit=$(git rev-parse --verify --quiet HEAD 2>/dev/null) || exit 0',
            *(f'if [ "$branch" = {q(e.branch)} ]; then fire {q(e.pipeline)} {e.trigger} '
              f'{q(e.branch)} "$commit"; fi' for e in items),
        ]
    else:
        lines += [
            "while read -r old new ref; do",
            '  case "$new" in *[!0]*) ;; *) continue ;; esac  # a deleted branch',
            *(f'  if [ "$ref" = {q("refs/heads/" + e.branch)} ]; then fire {q(e.pipeline)} '
              f'{e.trigger} {q(e.branch)} "$new"; fi' for e in items),
            "done",
        ]
    return "\n".join([*lines, "exit 0", ""])


def install(repo: Repository, kind: str, entry: Entry, url: str | None,
            force: bool = False) -> Path:
    """Put (or replace) ``entry``'s pipeline in the repository's ``kind`` hook."""
    hook = repo.hook(kind)
    found = entries(hook)
    if found is None and not force:
        raise HookError(f"{hook} is a hook Shipyard did not write; merge it by hand, or "
                        "replace it with --force.")
    items = [e for e in (found or []) if e.pipeline != entry.pipeline] + [entry]
    write(hook, render(kind, items, repo.git_dir / LOG_NAME, url))
    return hook


def uninstall(repo: Repository, kind: str, pipeline: str, url: str | None) -> Entry | None:
    """Take ``pipeline`` out of the ``kind`` hook (the file too, when it was the last);
    return its entry, if there was one."""
    hook = repo.hook(kind)
    found = entries(hook)
    if found is None:
        raise HookError(f"{hook} is a hook Shipyard did not write; it was left as it is.")
    gone = next((e for e in found if e.pipeline == pipeline), None)
    rest = [e for e in found if e.pipeline != pipeline]
    if gone is None:
        return None
    if rest:
        write(hook, render(kind, rest, repo.git_dir / LOG_NAME, url))
    else:
        with contextlib.suppress(FileNotFoundError):
            hook.unlink()
    return gone


def write(hook: Path, text: str) -> None:
    hook.parent.mkdir(parents=True, exist_ok=True)
    tmp = hook.with_name(f".{hook.name}.shipyard-tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(0o755)
    tmp.replace(hook)
