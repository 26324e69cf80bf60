"""What the server asks of a local git repository: is it one, a branch's head, a commit's
place on a branch. Used by git pipeline triggers (``_triggers``, ``_watcher``).

A repository path is a string a user sent, so it is checked the way catalog locations
are (:func:`check_repository`): absolute, an existing folder, resolved through symlinks,
neither inside nor around Shipyard's own folders (the home with its credentials and
database, the artifact store), and a git repository. Every git call is ``git`` itself
(never a shell) with a timeout, no terminal prompt, no optional locks (a read never
takes the index lock a user's ``git commit`` needs), no fsmonitor (a repository's
config cannot make the server run a program through it) and no ``GIT_*`` variable of
the server's own environment. Only full commit ids are accepted from clients: an
abbreviation could be ambiguous, and a string starting with ``-`` could be an option.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from shipyard.errors import InvalidRequest, ServerUnavailable

#: How long one git command may take (seconds).
GIT_TIMEOUT = 10.0
#: A full commit id: SHA-1 (40 hex digits) or SHA-256 (64).
_FULL_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    return env


def git(args: Sequence[str], repo: Path | None = None,
        timeout: float = GIT_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run ``git [-C repo] ARGS`` and return what it did (the caller reads its exit code).

    Raises:
        ServerUnavailable: git is not installed here, or it did not answer in time.
    """
    cmd = ["git", "-c", "core.fsmonitor=false"]
    if repo is not None:
        cmd += ["-C", str(repo)]
    try:
        return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout,
                              env=_env(), stdin=subprocess.DEVNULL, check=False)
    except FileNotFoundError:
        raise ServerUnavailable("git is not installed on the server; install it (e.g. "
                                "`apt-get install git`) to use git pipeline triggers.") from None
    except subprocess.TimeoutExpired:
        where = f" in {str(repo)!r}" if repo is not None else ""
        raise ServerUnavailable(f"git did not answer within {GIT_TIMEOUT:g} s{where}; try "
                                "again, and check the disk the repository lies on.") from None


def _first_line(done: subprocess.CompletedProcess[str]) -> str:
    text = (done.stderr or done.stdout or "").strip().splitlines()
    return text[0].removeprefix("fatal: ").rstrip(".") if text else f"exit {done.returncode}"


def check_repository(path: object, protected: Sequence[Path]) -> Path:
    """The repository ``path`` names, resolved: a local git repository the server may read.

    Returns the top folder of a working tree, or the folder of a bare repository.

    Raises:
        InvalidRequest: not an absolute path, no such folder, a protected place, or not a
            git repository.
    """
    if not isinstance(path, str) or not path.strip():
        raise InvalidRequest("Give the repository as the absolute path of a local git "
                             "repository on the server, e.g. /srv/git/churn.")
    raw = path.strip()
    if not Path(raw).is_absolute():
        raise InvalidRequest(f"Give the repository {raw!r} as an absolute path (the server "
                             "reads it on its own machine), e.g. /srv/git/churn.")
    try:
        real = Path(raw).resolve(strict=True)
    except (OSError, RuntimeError):
        raise InvalidRequest(f"No folder {raw!r} on the server; give the path of an existing "
                             "git repository.") from None
    if not real.is_dir():
        raise InvalidRequest(f"{raw!r} is not a folder; give the folder of a git repository.")
    _check_apart(raw, real, protected)
    bare = git(["rev-parse", "--is-bare-repository"], real)
    if bare.returncode != 0:
        raise InvalidRequest(f"{raw!r} is not a git repository ({_first_line(bare)}); give the "
                             "folder where `git init` was run, or a bare repository.")
    if bare.stdout.strip() == "true":
        top = real
    else:
        shown = git(["rev-parse", "--show-toplevel"], real)
        if shown.returncode != 0 or not shown.stdout.strip():
            raise InvalidRequest(f"{raw!r} is not a git working tree ({_first_line(shown)}); "
                                 "give the folder where `git init` was run.")
        top = Path(shown.stdout.strip()).resolve()
    if top != real:
        raise InvalidRequest(f"{raw!r} is inside the git repository {str(top)!r}; give the "
                             "repository's own folder.")
    return real


def _check_apart(raw: str, real: Path, protected: Sequence[Path]) -> None:
    if real == Path(real.anchor):
        raise InvalidRequest("The root of the file system cannot be a repository; give the "
                             "folder of the git repository.")
    for place in protected:
        p = place.resolve()
        if real == p or real.is_relative_to(p) or p.is_relative_to(real):
            raise InvalidRequest(f"{raw!r} holds or is inside Shipyard's own folder {str(p)!r} "
                                 "(credentials, metadata, artifacts); give a repository apart "
                                 "from it.")


def check_branch(branch: object) -> str:
    """A valid branch name (``git check-ref-format --branch``), or :class:`InvalidRequest`."""
    if not isinstance(branch, str) or not branch.strip():
        raise InvalidRequest("Give the branch to watch, e.g. main.")
    name = branch.strip()
    # '-x' would be an option to git; '@{-1}' names "the branch before" in a repository.
    if name.startswith("-") or "@{" in name or name.startswith("refs/"):
        raise InvalidRequest(f"Invalid branch name {name!r}; give a plain branch name such as "
                             "main or release/1.2.")
    done = git(["check-ref-format", "--branch", name])
    if done.returncode != 0 or done.stdout.strip() != name:
        raise InvalidRequest(f"Invalid branch name {name!r} (git check-ref-format refuses it); "
                             "give a plain branch name such as main or release/1.2.")
    return name


def head(repo: Path, branch: str) -> str | None:
    """The commit at the tip of ``branch`` in ``repo``; None when the branch has none yet.

    Raises:
        InvalidRequest: ``repo`` is no longer a git repository. ServerUnavailable: git
            missing or too slow.
    """
    done = git(["rev-parse", "--verify", "--quiet", "--end-of-options",
                f"refs/heads/{branch}^{{commit}}"], repo)
    if done.returncode == 0 and _FULL_SHA.match(done.stdout.strip()):
        return done.stdout.strip()
    if not repo.is_dir() or git(["rev-parse", "--git-dir"], repo).returncode != 0:
        raise InvalidRequest(f"{str(repo)!r} is no longer a git repository; delete the "
                             "trigger or restore the repository.")
    return None


def check_commit(commit: object) -> str:
    """A full commit id in lower case, or :class:`InvalidRequest`."""
    text = commit.strip().lower() if isinstance(commit, str) else ""
    if not _FULL_SHA.match(text):
        raise InvalidRequest(f"Give the commit as its full id (40 hex digits, `git rev-parse "
                             f"HEAD`); got {commit!r}.")
    return text


def verify_on_branch(repo: Path, branch: str, commit: str) -> None:
    """Check that ``commit`` is a commit of ``repo`` reachable from ``branch``'s head.

    Raises:
        InvalidRequest: no such commit in the repository, or not on the branch.
    """
    commit = check_commit(commit)
    exists = git(["cat-file", "-e", f"{commit}^{{commit}}"], repo)
    if exists.returncode != 0:
        raise InvalidRequest(f"Commit {commit} is not in the repository {str(repo)!r}; fire "
                             "a commit made there (`git rev-parse HEAD`).")
    tip = head(repo, branch)
    if tip is None:
        raise InvalidRequest(f"Branch {branch!r} of {str(repo)!r} has no commits; commit to it "
                             "first.")
    if tip == commit:
        return
    ancestor = git(["merge-base", "--is-ancestor", commit, tip], repo)
    if ancestor.returncode == 1:
        raise InvalidRequest(f"Commit {commit} is not on branch {branch!r} of {str(repo)!r}; "
                             f"the trigger only starts executions for that branch's commits.")
    if ancestor.returncode != 0:
        raise InvalidRequest(f"Cannot tell whether commit {commit} is on branch {branch!r} "
                             f"({_first_line(ancestor)}).")
