"""``shipyard pipelines triggers`` and ``shipyard pipelines hook``: what starts a pipeline.

``triggers_app`` (create, list, delete, fire) and ``hook_app`` (install, uninstall) are
sub-apps of ``shipyard pipelines`` (mounted by ``cli/_pipelines.py``).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shipyard.cli import _git_hook
from shipyard.cli._common import (
    JsonOpt,
    YesOpt,
    client,
    confirm_delete,
    fail,
    out,
    parse_pairs,
    print_deleted,
    print_json,
    print_table,
    when,
)
from shipyard.client._pipeline_triggers import (
    create_trigger,
    delete_trigger,
    fire_commit,
    list_triggers,
)

triggers_app = typer.Typer(
    help="Triggers: start a pipeline on a schedule, a git commit, a model approval, a "
         "monitor alert or a new dataset version (one execution per event).",
    no_args_is_help=True)
hook_app = typer.Typer(help="A git hook that reports each commit to a git trigger at once.",
                       no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The pipeline.")]
#: The options each kind takes (``--on`` spells kinds with hyphens).
OPTIONS = {"schedule": ("--every", "--cron"), "git": ("--repo", "--branch"),
           "model-approval": ("--group",), "monitor-alert": ("--monitor",),
           "dataset-version": ("--dataset",)}


def _config(on: str, given: dict[str, str | None]) -> dict[str, Any]:
    """The config of kind ``on`` from the options given; another kind's option is an error."""
    if on not in OPTIONS:
        fail(f"Unknown trigger kind {on!r}; use --on with one of {', '.join(OPTIONS)}.")
    wanted = OPTIONS[on]
    for option, value in given.items():
        if value is not None and option not in wanted:
            fail(f"{option} does not apply to --on {on}; it takes {' and '.join(wanted)}.")
    config = {o.removeprefix("--"): v for o, v in given.items() if v is not None}
    if on == "git":
        if "branch" not in config:
            fail("A git trigger needs --branch, the branch to watch (e.g. --branch main).")
        if "repo" in config:
            try:
                config["repo"] = str(_git_hook.repository(config["repo"]).path)
            except _git_hook.HookError as exc:
                fail(str(exc))
    return config


def _watches(doc: dict[str, Any]) -> str:
    config = doc.get("config") or {}
    kind = doc.get("kind")
    if kind == "schedule":
        return f"every {config['every']}" if config.get("every") else f"cron {config.get('cron')}"
    if kind == "git":
        return f"{config.get('repo')} ({config.get('branch')})"
    return ", ".join(f"{k} {v}" for k, v in config.items())


@triggers_app.command("create")
def create(
    name: NameArg,
    on: Annotated[str, typer.Option(
        "--on", metavar="KIND",
        help="schedule, git, model-approval, monitor-alert or dataset-version.")],
    every: Annotated[str | None, typer.Option("--every", metavar="INTERVAL",
                                              help="schedule: every 30s, 15m, 1h, 1d.")] = None,
    cron: Annotated[str | None, typer.Option("--cron", metavar="EXPR",
                                             help="schedule: a cron expression (UTC).")] = None,
    repo: Annotated[str | None, typer.Option(
        "--repo", metavar="PATH", help="git: the local repository.")] = None,
    branch: Annotated[str | None, typer.Option(
        "--branch", metavar="BRANCH", help="git: the branch to watch.")] = None,
    group: Annotated[str | None, typer.Option(
        "--group", metavar="GROUP", help="model-approval: the model group.")] = None,
    monitor: Annotated[str | None, typer.Option(
        "--monitor", metavar="MONITOR", help="monitor-alert: the monitor.")] = None,
    dataset: Annotated[str | None, typer.Option(
        "--dataset", metavar="DATASET", help="dataset-version: the dataset.")] = None,
    param: Annotated[list[str] | None, typer.Option(
        "--param", metavar="KEY=VALUE",
        help="A fixed parameter of the executions it starts; repeatable.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a trigger; each event it watches starts one execution of the pipeline."""
    config = _config(on, {"--every": every, "--cron": cron, "--repo": repo, "--branch": branch,
                          "--group": group, "--monitor": monitor, "--dataset": dataset})
    doc = create_trigger(name, on.replace("-", "_"), parameters=parse_pairs(param, "--param"),
                      client=client(), **config)
    if json_out:
        print_json(doc)
        return
    out.print(f"Created {doc['kind']} trigger {doc['id']} of pipeline {name!r}: "
              f"{_watches(doc)}.")


@triggers_app.command("list")
def list_(name: NameArg, json_out: JsonOpt = False) -> None:
    """List the pipeline's triggers."""
    docs = list_triggers(name, client=client())
    if json_out:
        print_json(docs)
        return
    print_table(["id", "kind", "watches", "parameters", "last commit", "created", "by"],
                [[d["id"], d["kind"], _watches(d), d.get("parameters") or "",
                  (d.get("state") or {}).get("last_commit") or "", when(d.get("created_at")),
                  d.get("created_by")] for d in docs],
                empty=f"Pipeline {name!r} has no triggers; create one with `shipyard "
                      f"pipelines triggers create {name} --on …`.")


@triggers_app.command("delete")
def delete(name: NameArg,
           trigger_id: Annotated[int, typer.Argument(metavar="TRIGGER_ID")],
           yes: YesOpt = False, json_out: JsonOpt = False) -> None:
    """Delete a trigger (a schedule trigger's schedule with it); its executions stay."""
    confirm_delete(f"trigger {trigger_id} of pipeline {name!r}", yes)
    doc = delete_trigger(name, trigger_id, client=client())
    if json_out:
        print_json(doc)
        return
    print_deleted(doc)


@triggers_app.command("fire")
def fire(
    name: NameArg,
    trigger: Annotated[int, typer.Option("--trigger", metavar="ID", help="The git trigger.")],
    commit: Annotated[str, typer.Option("--commit", metavar="SHA",
                                        help="The full commit id.")],
    branch: Annotated[str | None, typer.Option(
        "--branch", metavar="BRANCH", help="The branch committed to.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Report a commit to a git trigger (what the hook runs); one execution per commit."""
    ex, created = fire_commit(name, trigger, commit, branch, client=client())
    if json_out:
        print_json({**ex, "created": created})
        return
    if created:
        out.print(f"Started execution {ex['id']} of pipeline {name!r} for commit "
                  f"{commit[:12]} (trigger {trigger}).")
    else:
        out.print(f"Commit {commit[:12]} had started execution {ex['id']} of pipeline "
                  f"{name!r} already (trigger {trigger}).")


KindOpt = Annotated[str | None, typer.Option(
    "--kind", metavar="HOOK",
    help="post-commit (a working tree) or post-receive (a bare repository); default: by the "
         "repository.")]
RepoOpt = Annotated[str, typer.Option("--repo", metavar="PATH",
                                      help="The local git repository.")]


def _hook_kind(repo: _git_hook.Repository, kind: str | None) -> str:
    if kind is None:
        return "post-receive" if repo.bare else "post-commit"
    if kind not in _git_hook.HOOK_KINDS:
        fail(f"Unknown hook kind {kind!r}; use post-commit or post-receive.")
    return kind


def _repository(path: str) -> _git_hook.Repository:
    try:
        return _git_hook.repository(path)
    except _git_hook.HookError as exc:
        fail(str(exc))


@hook_app.command("install")
def install(
    name: NameArg, repo: RepoOpt,
    branch: Annotated[str, typer.Option("--branch", metavar="BRANCH",
                                        help="The branch whose commits start the pipeline.")],
    kind: KindOpt = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace a hook Shipyard did not write.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Install a git hook that starts the pipeline after each commit to BRANCH (the git
    trigger is created, or reused); it never blocks or fails a commit."""
    local = _repository(repo)
    hook_kind = _hook_kind(local, kind)
    if _git_hook.entries(local.hook(hook_kind)) is None and not force:
        fail(f"{local.hook(hook_kind)} is a hook Shipyard did not write; merge it by hand, or "
             "replace it with --force.")
    c = client()
    found = [d for d in list_triggers(name, client=c) if d["kind"] == "git"
             and (d.get("config") or {}).get("repo") == str(local.path)
             and (d.get("config") or {}).get("branch") == branch]
    trig = found[0] if found else create_trigger(name, "git", client=c, repo=str(local.path),
                                              branch=branch)
    try:
        hook = _git_hook.install(local, hook_kind, _git_hook.Entry(name, trig["id"], branch),
                                 c.url, force=force)
    except _git_hook.HookError as exc:
        fail(str(exc))
    if json_out:
        print_json({"hook": str(hook), "kind": hook_kind, "trigger": trig,
                    "reused": bool(found), "log": str(local.git_dir / _git_hook.LOG_NAME)})
        return
    out.print(f"Installed {hook}: commits to {branch} start pipeline {name!r} (git trigger "
              f"{trig['id']}{', reused' if found else ''}); it logs to "
              f"{local.git_dir / _git_hook.LOG_NAME}.")


@hook_app.command("uninstall")
def uninstall(
    name: NameArg, repo: RepoOpt, kind: KindOpt = None,
    delete_trigger_: Annotated[bool, typer.Option(
        "--delete-trigger", help="Delete its git trigger on the server too (otherwise the "
                                 "server's watcher still starts the pipeline).")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Take the pipeline out of the repository's hook (the hook file when it was the last)."""
    local = _repository(repo)
    hook_kind = _hook_kind(local, kind)
    c = client()
    try:
        gone = _git_hook.uninstall(local, hook_kind, name, c.url)
    except _git_hook.HookError as exc:
        fail(str(exc))
    if gone is None:
        fail(f"{local.hook(hook_kind)} does not start pipeline {name!r}; nothing to uninstall.")
    if delete_trigger_:
        delete_trigger(name, gone.trigger, client=c)
    if json_out:
        print_json({"hook": str(local.hook(hook_kind)), "trigger": gone.trigger,
                    "trigger_deleted": delete_trigger_})
        return
    out.print(f"Pipeline {name!r} no longer starts from {local.hook(hook_kind)}"
              + (f"; git trigger {gone.trigger} was deleted." if delete_trigger_ else
                 f"; git trigger {gone.trigger} stays (the server's watcher still starts it; "
                 f"`shipyard pipelines triggers delete {name} {gone.trigger}`)."))
