"""``shipyard models``: register a job's model, approve or reject it, edit its card."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shipyard.cli._common import (
    ForceOpt,
    JsonOpt,
    YesOpt,
    client,
    confirm_delete,
    fail,
    out,
    output_mode,
    parse_pairs,
    print_deleted,
    print_json,
    print_table,
    quiet_option,
    say,
    table,
    when,
)
from shipyard.client import ModelGroup, ModelVersion
from shipyard.client._models import APPROVED, CARD_FIELDS, register
from shipyard.client._training import flat_metrics, headline

app = typer.Typer(help="The model registry: versions of a model, approval, model cards.",
                  no_args_is_help=True)

GroupArg = Annotated[str, typer.Argument(metavar="GROUP", help="The model group.")]
VersionArg = Annotated[int, typer.Argument(metavar="VERSION", help="The version number.")]
CommentOpt = Annotated[str, typer.Option(
    "--comment", "-c", metavar="TEXT", help="Why (kept in the audit log and on the card).")]


def _verdict(criteria: dict[str, Any] | None) -> str:
    crit = criteria or {}
    if not crit.get("results"):
        return "-"
    passed = crit.get("passed")
    text = "pass" if passed is True else "FAIL" if passed is False else "not measured"
    return text + (" (override)" if crit.get("override") else "")


def _version_line(doc: dict[str, Any]) -> str:
    return f"{doc.get('group')} v{doc.get('version')} ({doc.get('status')})"


@app.command("register")
def register_(
    group: GroupArg,
    job: Annotated[str, typer.Option(
        "--job", metavar="ID", help="The Completed job whose model to register.")],
    override_criteria: Annotated[str | None, typer.Option(
        "--override-criteria", metavar="REASON",
        help="Register despite failing the experiment's success criteria, for this reason.")
    ] = None,
    intended_use: Annotated[str | None, typer.Option(
        "--intended-use", metavar="TEXT", help="Model card: what the model is for.")] = None,
    limitations: Annotated[str | None, typer.Option(
        "--limitations", metavar="TEXT", help="Model card: where it should not be trusted.")
    ] = None,
    description: Annotated[str | None, typer.Option(
        "--description", metavar="TEXT", help="Model card: a description.")] = None,
    candidate: Annotated[int | None, typer.Option(
        "--candidate", metavar="N", min=0,
        help="An AutoML job's candidate N (`shipyard automl leaderboard ID`) instead of "
             "its final model.")] = None,
    json_out: JsonOpt = False,
    quiet: Annotated[bool, quiet_option("the new version's number")] = False,
) -> None:
    """Register a job's model as a new version (it then waits for approval)."""
    output_mode(json_out, quiet)
    card = {k: v for k, v in (("intended_use", intended_use), ("limitations", limitations))
            if v is not None}
    version = register(client(), group, job, override_criteria=override_criteria,
                       card=card or None, description=description, candidate=candidate)
    if quiet:
        say(str(version.version))
        return
    if json_out:
        print_json(version.doc)
        return
    note = " despite failing its success criteria (override recorded)" \
        if version.criteria.get("override") else ""
    out.print(f"Registered {_version_line(version.doc)} from job {job}{note}. "
              f"An approver approves it with `shipyard models approve {group} "
              f"{version.version} --comment TEXT`.")


@app.command("list")
def list_(
    group: Annotated[str | None, typer.Argument(
        metavar="[GROUP]", help="List this group's versions instead of the groups.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Model groups; with GROUP, its versions."""
    c = client()
    if group is None:
        docs = c.get("/models")
        if json_out:
            print_json(docs)
            return
        print_table(["group", "versions", "latest", "status", "latest approved", "updated"],
                    ([d.get("name"), d.get("versions"), d.get("latest_version"),
                      d.get("latest_status"), d.get("latest_approved_version"),
                      when(d.get("updated_at"))] for d in docs),
                    empty="No models registered.")
        return
    versions = ModelGroup(group, client=c).version_docs()
    if json_out:
        print_json(versions)
        return
    measured = list(dict.fromkeys(k for v in versions for k in flat_metrics(v.get("metrics"))))
    metrics = headline([m for m in measured if m.startswith("test.")] or measured, 3)
    print_table(["version", "status", "job", *metrics, "criteria", "created", "by"],
                ([v.get("version"), v.get("status"), v.get("job_id"),
                  *(flat_metrics(v.get("metrics")).get(m) for m in metrics),
                  _verdict(v.get("criteria")), when(v.get("created_at")), v.get("created_by")]
                 for v in versions),
                title=f"Model group {group}", empty=f"Model group {group} has no versions.")


def _show(version: ModelVersion) -> None:
    doc = version.doc
    crit = version.criteria
    datasets = ", ".join(f"{d.get('dataset')} v{d.get('version')}"
                         for d in version.training_data)
    rows: list[list[Any]] = [
        ["model", f"{version.group} v{version.version}"], ["status", version.status],
        ["decision", doc.get("status_comment")],
        ["decided by", doc.get("status_changed_by") if doc.get("status_comment") else None],
        ["job", version.job_id], ["training data", datasets], ["criteria", _verdict(crit)],
        ["override", (crit.get("override") or {}).get("reason")],
        ["files", len(version.files) or None],
        ["created", when(doc.get("created_at"))], ["by", doc.get("created_by")],
    ]
    t = table(["", ""], [r for r in rows if r[1] not in (None, "")])
    t.show_header = False
    out.print(t)
    flat = flat_metrics(version.metrics)
    print_table(["metric", "value"],
                [[k, flat[k]] for k in sorted(flat) if not k.startswith("curve.")],
                title="Metrics")


@app.command("show")
def show(group: GroupArg, version: VersionArg, json_out: JsonOpt = False) -> None:
    """A version: status, job, lineage, criteria verdict and metrics."""
    v = ModelVersion(group, version, client=client())
    if json_out:
        print_json(v.doc)
        return
    _show(v)


@app.command("latest")
def latest(
    group: GroupArg,
    status: Annotated[str, typer.Option(
        "--status", metavar="STATUS",
        help="Approved, PendingManualApproval, Rejected, or 'any'.")] = APPROVED,
    json_out: JsonOpt = False,
) -> None:
    """The newest version of a group with a status (default: Approved)."""
    v = ModelGroup(group, client=client(), _doc={"name": group}).latest(
        None if status.lower() == "any" else status)
    if json_out:
        print_json(v.doc)
        return
    _show(v)


@app.command("auto-deploy")
def auto_deploy(
    group: GroupArg,
    endpoint: Annotated[str | None, typer.Option(
        "--endpoint", metavar="NAME", help="The endpoint each newly approved version goes to.")
    ] = None,
    instances: Annotated[int, typer.Option("--instances", min=1, max=64)] = 1,
    variant: Annotated[str | None, typer.Option(
        "--variant", metavar="NAME", help="The variant to roll over, when there are several.")
    ] = None,
    off: Annotated[bool, typer.Option("--off", help="Stop deploying on approval.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Deploy each newly approved version of GROUP to an endpoint (approval -> deploy)."""
    if off == (endpoint is not None):
        fail("Give either --endpoint NAME to turn auto-deploy on, or --off.")
    g = ModelGroup(group, client=client(), _doc={"name": group}).auto_deploy(
        None if off else endpoint, instances=instances, variant=variant)
    if json_out:
        print_json(g.doc)
    elif off:
        out.print(f"Model group {group}: auto-deploy is off.")
    else:
        out.print(f"Model group {group}: each newly approved version deploys to endpoint "
                  f"{endpoint} ({instances} instance{'s' if instances != 1 else ''}).")


def _decide(group: str, version: int, comment: str, approve: bool, json_out: bool) -> None:
    v = ModelVersion(group, version, client=client(), _doc={})
    v = v.approve(comment) if approve else v.reject(comment)
    if json_out:
        print_json(v.doc)
    else:
        out.print(f"Model {_version_line(v.doc)}: {comment}")


@app.command("approve")
def approve(group: GroupArg, version: VersionArg, comment: CommentOpt,
            json_out: JsonOpt = False) -> None:
    """Approve a version (approver or admin)."""
    _decide(group, version, comment, True, json_out)


@app.command("reject")
def reject(group: GroupArg, version: VersionArg, comment: CommentOpt,
           json_out: JsonOpt = False) -> None:
    """Reject a version (approver or admin)."""
    _decide(group, version, comment, False, json_out)


@app.command("card")
def card(
    group: GroupArg,
    version: VersionArg,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", metavar="FIELD=TEXT",
        help=f"Write a card field ({', '.join(CARD_FIELDS)}); repeatable.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Show a version's model card (Markdown); --set edits its fields first."""
    changes = parse_pairs(set_, "--set")
    unknown = sorted(set(changes) - set(CARD_FIELDS))
    if unknown:
        fail(f"Cannot set card field {', '.join(unknown)}; editable fields: "
             f"{', '.join(CARD_FIELDS)}.")
    v = ModelVersion(group, version, client=client(), _doc={} if changes else None)
    if changes:
        v.update_card(**changes)
    if json_out:
        print_json({**v.card_fields, "markdown": str(v.card)})
        return
    from rich.markdown import Markdown

    out.print(Markdown(str(v.card)))


@app.command("delete")
def delete(group: GroupArg, yes: YesOpt = False, force: ForceOpt = False,
           json_out: JsonOpt = False) -> None:
    """Delete a model group and its versions (refused while something uses it: an endpoint,
    a job, a schedule, a pipeline; docs/security.md)."""
    confirm_delete(f"model group {group!r}", yes, " and all its versions and bundles")
    doc = client().delete(f"/models/{group}", force=force or None)
    if json_out:
        print_json(doc)
        return
    print_deleted(doc)


@app.command("download")
def download(
    group: GroupArg,
    version: VersionArg,
    output: Annotated[Path, typer.Option(
        "--output", "-o", metavar="DIR", help="The folder to write the bundle into.")],
    json_out: JsonOpt = False,
) -> None:
    """Download a version's bundle (MODEL.json and the files it lists)."""
    v = ModelVersion(group, version, client=client())
    dest = v.download(output)
    if json_out:
        print_json({"group": group, "version": version, "output": str(dest),
                    "files": [f.get("path") for f in v.files]})
    else:
        out.print(f"Wrote {len(v.files)} files of {group} v{version} to {dest}.")
