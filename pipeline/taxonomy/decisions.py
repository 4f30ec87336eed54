"""Taxonomy owners' decisions on proposals, kept beside the taxonomy so they survive every re-run.

`<taxonomy>.decisions.yaml` records who accepted or rejected which proposal, when and why, with a snapshot of the
proposal as it was. A rejected proposal stays hidden in later runs unless its evidence grows materially
(`proposals.evidence_growth`). `apply_decisions` turns accepted proposals into the next taxonomy version, keeps
the previous file, and appends a changelog. The file is validated whole when read (`Decisions`), so a broken
decisions file is named before a run does any heavy work.

The command line and the review app decide through the functions here, on the same file. A decision is checked
when it is made, not when it is applied: a parent must be a reason of the taxonomy, a merge must name a reason or
a new reason accepted with it, the reasons a proposal changes must still be there. Every change holds a lock on the
taxonomy's folder while it reads, checks and rewrites the file (atomically), so two people deciding at once both
land; a page sends back the `revision` of the decision it showed, so a decision someone made meanwhile is refused
with their name, never silently replaced.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import os
import re
import shutil
import time
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline.config import load_config, read_yaml, write_together, yaml_text
from pipeline.errors import TaxonomyError
from pipeline.taxonomy.proposals import Proposal, sentence_case
from pipeline.taxonomy.tree import (
    Reason,
    Taxonomy,
    did_you_mean,
    edited_text,
    groups,
    load_taxonomy,
    parse_taxonomy,
    plain_name,
    slug,
    taxonomy_data,
)
from pipeline.text.lemmas import as_looked_up

NOT_CHECKED = "not-checked"  # `seen` of a change that replaces whatever is there (the CLI then says what it replaced)
MIN_PREFIX = 4  # the fewest first characters of a proposal id that people may type for the whole id
LOCK_WAIT_S = 15.0  # how long a change waits for another to finish saving before it gives up
_NEW_REASONS = ("new_reason", "secondary", "split")  # the kinds that add reasons, which may take a parent
_CHANGES_REASONS = ("split", "merge", "retire")  # the kinds whose reasons must still be in the taxonomy


class SplitPart(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    examples: list[str] = []
    description: str = ""


class Decision(BaseModel):
    """One owner's decision on one proposal, with the proposal as it was when decided."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    proposal_id: str
    decision: Literal["accepted", "rejected"]
    by: str
    at: str
    why: str | None = None
    name: str | None = None  # accepted under another name (a split: names separated by ';')
    description: str | None = None  # None: the proposal's own; '' (after a rename): none
    parent: str | None = None
    into: str | None = None  # merged into this reason id, or into the new reason of this accepted proposal id
    into_name: str | None = None  # what `into` was called when decided: people read names, not ids
    parts: list[SplitPart] | None = None  # a split's new reasons
    applied_in: int | None = None  # the taxonomy version that took it in
    applied_at: str | None = None  # when (decisions applied before this was kept: the changelog says)
    added: list[str] | None = None  # the reason ids its version gave it: never given again, even deleted by hand
    proposal: Proposal

    @property
    def revision(self) -> str:
        """Names this exact decision: a page sends it back, so a decision changed meanwhile is not overwritten."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:12]


class Decisions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    decisions: list[Decision] = []


class DecisionConflict(TaxonomyError):
    """Someone decided the same proposal (or applied the taxonomy) after the page or command read it."""


@dataclass(frozen=True)
class Recorded:
    decision: Decision
    replaced: Decision | None  # the earlier decision on the same proposal it took the place of
    also: str = ""  # what else applying it changes (`becomes_group`), '' where nothing


@dataclass(frozen=True)
class Preview:
    """The next taxonomy version as `apply_decisions` would write it now."""

    current: Taxonomy | None  # None: no taxonomy file yet (the first apply writes version 1)
    updated: Taxonomy
    changes: list[str]
    pending: list[Decision]
    added: dict[str, list[str]]  # proposal id -> the reason ids it adds

    @property
    def revision(self) -> str:
        """Names what was previewed, so an apply writes what its reader saw or nothing."""
        seen = [str(self.current.version if self.current else 0), *(d.revision for d in self.pending)]
        return hashlib.sha256(" ".join(seen).encode()).hexdigest()[:12]


def decisions_path(taxonomy_path: Path) -> Path:
    real = _real(taxonomy_path)
    return real.with_name(f"{real.stem}.decisions.yaml")


def _real(taxonomy_path: Path) -> Path:
    """The file a taxonomy path names, through a link: its decisions, kept versions and changelog sit beside the
    real file, so the link and the path a run recorded (resolved) find the same ones."""
    path = Path(taxonomy_path)
    return path.resolve() if path.is_symlink() else path


def taxonomy_for_run(run_folder: Path, used: str | None, given: Path | None = None) -> Path:
    """The taxonomy a run's decisions go beside: the one given, else the one the run read, else the run's own,
    `<folder>.taxonomy.yaml` beside the run folder (never inside it: each run replaces its folder whole), which
    the first `apply` creates. The one the run read, gone since, is an error: decisions beside it would start a new
    taxonomy at version 1, its earlier decisions open again."""
    if given:
        return Path(given)
    if used:
        if "://" in used:
            raise TaxonomyError(
                f"this run read its reasons from {used}: decisions are kept beside a taxonomy file on this machine; "
                "give --taxonomy with a copy of it here"
            )
        if not Path(used).is_file():
            raise TaxonomyError(
                f"this run read its reasons from {used}, which is not there any more (moved or deleted?): give "
                "--taxonomy with where it is now, or put it back"
            )
        return Path(used)
    folder = Path(run_folder).resolve()
    return folder.with_name(f"{folder.name}.taxonomy.yaml")


def load_decisions(taxonomy_path: Path) -> list[Decision]:
    path = decisions_path(taxonomy_path)
    if not path.is_file():
        return []
    data = read_yaml(path, "decisions file", TaxonomyError)
    try:
        return Decisions.model_validate(data).decisions
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'the file'}: {e['msg']}" for e in exc.errors()[:5])
        raise TaxonomyError(
            f"decisions file {path} is not valid ({problems}); fix it, or move it aside to start the decisions afresh"
        ) from None


def save_decisions(taxonomy_path: Path, decisions: list[Decision]) -> None:
    write_together([(decisions_path(taxonomy_path), _decisions_text(decisions))])


def _decisions_text(decisions: list[Decision]) -> str:
    return yaml_text(Decisions(decisions=decisions).model_dump(mode="json", exclude_none=True))


@contextmanager
def decisions_lock(taxonomy_path: Path) -> Iterator[None]:
    """Held while a change reads, checks and rewrites the decisions (or applies them). It locks the taxonomy's
    folder, so no lock file is left beside a taxonomy kept in a repository."""
    folder = Path(taxonomy_path).resolve().parent
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TaxonomyError(
                        f"another decision on {taxonomy_path} has been saving for over {LOCK_WAIT_S:.0f} s; "
                        "try again in a moment"
                    ) from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # closing releases the lock, also when the process dies


def proposals_from_table(frame: pd.DataFrame) -> list[Proposal]:
    """A run's `proposals` table as typed proposals, in rank order (columns a proposal does not know are left)."""
    rows = frame.sort_values("rank").to_dict("records") if len(frame) else []
    return [
        Proposal.model_validate(
            {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in row.items() if k in Proposal.model_fields}
        )
        for row in rows
    ]


def find_proposal(proposals: Sequence[Proposal], given: str) -> Proposal:
    """The proposal with this id. The first characters of an id will do when they start one id only and are at
    least `MIN_PREFIX` long; whoever calls this shows the whole id it found."""
    given = given.strip()
    exact = [p for p in proposals if p.proposal_id == given]
    if exact:
        return exact[0]
    found = [p for p in proposals if p.proposal_id.startswith(given)] if len(given) >= MIN_PREFIX else []
    if len(found) == 1:
        return found[0]
    if found:
        shown = ", ".join(f"{p.proposal_id} ({p.name})" for p in found[:5])
        raise TaxonomyError(f"'{given}' starts {len(found)} proposal ids ({shown}): give more of the id")
    short = f" (give at least {MIN_PREFIX} characters of an id)" if len(given) < MIN_PREFIX else ""
    raise TaxonomyError(f"no proposal of this run has the id '{given}'{short}; `touchless proposals` lists them")


def split_parts(proposal: Proposal, clusters: pd.DataFrame, names: Sequence[str | None] = ()) -> list[SplitPart]:
    """A split's new reasons, one per cluster of the proposal: named after the cluster unless a name is given,
    with the cluster's examples. `clusters`: the run's clusters table."""
    by_id = clusters.set_index("cluster_id")
    given = list(names) + [None] * (len(proposal.cluster_ids) - len(names))
    return [
        SplitPart(
            name=(name or "").strip() or sentence_case(by_id.loc[c, "label"]),
            examples=list(by_id.loc[c, "examples"]),
        )
        for c, name in zip(proposal.cluster_ids, given)
    ]


def parent_choices(taxonomy: Taxonomy | None) -> list[Reason]:
    """The reasons a new reason may be put under (two levels: an active reason that has no parent itself),
    groups that already hold reasons first (`groups`); the others are reasons contacts are given until one is put
    under them (`becomes_group`)."""
    if taxonomy is None:
        return []
    held = groups(taxonomy.reasons)
    top = [r for r in taxonomy.reasons if r.status == "active" and r.parent is None and r.kind == "reason"]
    return sorted(top, key=lambda r: (r.id not in held, r.name.lower()))


def becomes_group(reasons: dict[str, Reason], parent: str | None) -> str:
    """What putting a reason under `parent` changes beyond adding it: where `parent` holds no reason yet, contacts
    are given it now, and once it holds one they no longer are (a group only adds up its reasons), so its contacts
    move to the reasons under it or to none. '' where nothing else changes."""
    if parent is None or parent not in reasons or parent in groups(reasons.values()):
        return ""
    return (
        f"'{parent}' ({reasons[parent].name}) becomes a reason group: contacts are no longer given it, only the "
        "reasons under it"
    )


def _whole_proposal_id(
    into: str | None, taxonomy: Taxonomy | None, decisions: list[Decision], proposal: Proposal
) -> str | None:
    """`into` as given, or the whole id of the one accepted new reason's proposal whose id it starts (at least
    `MIN_PREFIX` characters), as proposal ids may be given everywhere else."""
    if into is None or len(into) < MIN_PREFIX:
        return into
    choices = merge_choices(taxonomy, decisions, proposal)
    if into in {target for target, _ in choices}:
        return into
    reason_ids = {r.id for r in taxonomy.reasons} if taxonomy else set()
    starting = [(t, name) for t, name in choices if t.startswith(into) and t not in reason_ids]
    if len(starting) > 1:
        shown = ", ".join(f"{t} ({name})" for t, name in starting[:5])
        raise TaxonomyError(f"'{into}' starts {len(starting)} accepted proposal ids ({shown}): give more of the id")
    return starting[0][0] if starting else into


def merge_choices(taxonomy: Taxonomy | None, decisions: list[Decision], proposal: Proposal) -> list[tuple[str, str]]:
    """(id, name) of what a new-reason proposal can be merged into: the taxonomy's reasons that contacts are
    given, and the new reasons accepted but not yet applied (by proposal id); not a reason an accepted split, merge
    or retirement will retire."""
    retiring = _retired_by_pending(decisions)
    reasons = (
        [(r.id, r.name) for r in taxonomy.assignable() if r.kind == "reason" and r.id not in retiring]
        if taxonomy
        else []
    )
    accepted = [
        (d.proposal_id, d.name or d.proposal.name)
        for d in decisions
        if d.decision == "accepted"
        and d.applied_in is None
        and d.into is None
        and d.proposal.kind == "new_reason"
        and d.proposal_id != proposal.proposal_id
    ]
    return reasons + accepted


def _retired_by_pending(decisions: list[Decision]) -> dict[str, Decision]:
    """reason id -> the accepted, not yet applied decision that will retire it."""
    out = {}
    for d in decisions:
        if d.decision == "accepted" and d.applied_in is None and d.into is None:
            kind, ids = d.proposal.kind, d.proposal.reason_ids
            if kind in ("split", "retire") or (kind == "merge" and len(ids) > 1):
                out[ids[-1] if kind == "merge" else ids[0]] = d
    return out


def _new_names(d: Decision) -> list[str]:
    """The names of the reasons decision `d` adds or renames (none for a merge into a reason)."""
    return [] if d.into else _names_given(d.proposal, d.name, d.parts)


def _names_given(proposal: Proposal, name: str | None, parts: Sequence[SplitPart] | None) -> list[str]:
    """The names of the reasons accepting `proposal` with this name (or these parts) adds or renames."""
    if proposal.kind == "split":
        return [n.strip() for n in name.split(";")] if name else [part.name.strip() for part in parts or []]
    if proposal.kind in ("new_reason", "secondary"):
        return [(name or proposal.name).strip()]
    return [name.strip()] if name and proposal.kind == "merge" else []


def decision_for(proposal: Proposal, decisions: list[Decision]) -> Decision | None:
    """The decision that covers a proposal: the one made on its id, else one made on the same evidence in an
    earlier run (same kind and reasons, and the same clusters of the same chain of runs or mostly the same
    keywords)."""
    exact = [d for d in decisions if d.proposal_id == proposal.proposal_id]
    return exact[-1] if exact else next((d for d in reversed(decisions) if _same(proposal, d)), None)


def user_name() -> str:
    """Who decides when no name is given: this login's user name ('unknown' where the system names none, as in
    some containers)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def decided_by(d: Decision) -> str:
    """'accepted by ana on 2026-12-05'."""
    return f"{d.decision} by {d.by} on {d.at[:10]}"


def decision_text(d: Decision) -> str:
    """A decision as people read it: what, by whom, when, the name and place given, and why."""
    text = decided_by(d)
    text += f" as '{d.name}'" if d.name else ""
    text += f" under '{d.parent}'" if d.parent else ""
    text += (f" into '{d.into_name}' ({d.into})" if d.into_name else f" into '{d.into}'") if d.into else ""
    text += f": {d.why}" if d.why else ""
    return text + (f"; applied in taxonomy version {d.applied_in}" if d.applied_in is not None else "")


def standing_decision(proposal: Proposal, decisions: list[Decision]) -> Decision | None:
    """The decision to show beside a proposal: the one that gives it its status now, or the accept of this very
    proposal that a taxonomy version took in (its status is open again: nothing is left to decide)."""
    if proposal.status != "open":
        return decision_for(proposal, decisions)
    applied = [d for d in decisions if d.proposal_id == proposal.proposal_id and d.applied_in is not None]
    return applied[-1] if applied else None


def _latest(decisions: list[Decision], proposal_id: str) -> Decision | None:
    """The newest decision on a proposal: one applied in a version may be followed by one on the same proposal
    made again by a run of that version, which that version did not settle."""
    mine = [d for d in decisions if d.proposal_id == proposal_id]
    return mine[-1] if mine else None


def record(
    taxonomy_path: Path,
    proposal: Proposal,
    decision: Literal["accepted", "rejected"],
    *,
    why: str | None = None,
    name: str | None = None,
    description: str | None = None,
    parent: str | None = None,
    into: str | None = None,
    parts: list[SplitPart] | None = None,
    by: str | None = None,
    seen: str | None = NOT_CHECKED,
) -> Recorded:
    """Check and store an accept or reject. `seen`: the revision of the decision the person saw on this proposal
    (None: none); when it differs from the one on file, someone decided meanwhile and nothing is written. A new
    name clears the proposal's machine-written description unless one is given. A proposal whose accept a version
    took in is decided anew when a run made since proposes it again (its status is open): the applied decision is
    kept, as history, beside the new one."""
    taxonomy_path = Path(taxonomy_path)
    name, parent, into = ((v or "").strip() or None for v in (name, parent, into))
    if name == proposal.name:
        name = None
    if name and description is None and proposal.kind != "split":
        description = ""  # the suggested description was written for the suggested name
    if decision == "rejected" and not (why or "").strip():
        raise TaxonomyError("say why the proposal is rejected: the reason is kept with the decision")
    if proposal.kind == "split" and description:  # each part keeps its cluster's description
        raise TaxonomyError("a split's new reasons take their clusters' descriptions: give no description")
    with decisions_lock(taxonomy_path):
        decisions = load_decisions(taxonomy_path)
        current = _latest(decisions, proposal.proposal_id)
        _check_seen(current, seen, proposal)
        if current is not None and current.applied_in is not None and proposal.status != "open":
            raise TaxonomyError(
                f"proposal {proposal.proposal_id} was written into version {current.applied_in} of {taxonomy_path}; "
                "run discover again to see what is left to decide"
            )
        if not (decision == "accepted" and into is None):  # its new reason is what others merge into
            _refuse_if_merged_into(decisions, proposal.proposal_id, "the new reason of this proposal")
        also, into_name = "", None
        if decision == "accepted":
            taxonomy = load_taxonomy(taxonomy_path) if taxonomy_path.is_file() else None
            into = _whole_proposal_id(into, taxonomy, decisions, proposal)
            _check_accept(taxonomy_path, taxonomy, decisions, proposal, name, parent, into, parts)
            into_name = dict(merge_choices(taxonomy, decisions, proposal)).get(into) if into else None
            others = [d for d in decisions if d.decision == "accepted" and d.applied_in is None and d is not current]
            if taxonomy is not None and not any(d.parent == parent for d in others):  # else said when that was
                also = becomes_group(taxonomy.by_id(), parent)
        accepted = {
            "name": name,
            "description": description,
            "parent": parent,
            "into": into,
            "into_name": into_name,
            "parts": parts or None,
        }
        entry = Decision(
            proposal_id=proposal.proposal_id,
            decision=decision,
            by=(by or "").strip() or user_name(),
            at=datetime.now(UTC).isoformat(timespec="seconds"),
            why=(why or "").strip() or None,
            **({k: v for k, v in accepted.items() if v is not None} if decision == "accepted" else {}),
            proposal=proposal.model_copy(update={"status": "open"}),
        )
        # a decision not yet applied on this proposal gives way to this one; so does an acceptance not yet applied
        # of the same evidence in an earlier run, which apply would carry out after this run's was rejected
        covering = decision_for(proposal, decisions) if current is None else None
        if covering is not None and covering.decision == "accepted" and covering.applied_in is None:
            current = covering
        replaced = current if current is not None and current.applied_in is None else None
        save_decisions(taxonomy_path, [d for d in decisions if d is not replaced] + [entry])
    return Recorded(entry, replaced, also)


def undo(taxonomy_path: Path, proposal_id: str, seen: str | None = NOT_CHECKED) -> Decision:
    """Take back the decision on a proposal (not yet applied); it is open again. Returns what was taken back."""
    taxonomy_path = Path(taxonomy_path)
    with decisions_lock(taxonomy_path):
        decisions = load_decisions(taxonomy_path)
        current = _latest(decisions, proposal_id)
        if current is None:
            raise DecisionConflict(f"proposal {proposal_id} has no decision to undo (someone may have undone it)")
        _check_seen(current, seen, current.proposal)
        if current.applied_in is not None:
            raise TaxonomyError(_applied_already(taxonomy_path, current))
        _refuse_if_merged_into(decisions, proposal_id, f"the new reason of proposal {proposal_id}")
        save_decisions(taxonomy_path, [d for d in decisions if d is not current])
    return current


def _applied_already(taxonomy_path: Path, d: Decision) -> str:
    """Why an applied decision cannot be undone, and what to do instead."""
    taxonomy_path = _real(taxonomy_path)
    when = d.applied_at or _changelog_date(taxonomy_path, d.applied_in)
    before = taxonomy_path.with_name(f"{taxonomy_path.stem}.v{d.applied_in - 1}.yaml")
    kept = f" (version {d.applied_in - 1}, from before it, is kept as {before})" if before.is_file() else ""
    return (
        f"proposal {d.proposal_id} '{d.proposal.name}' ({decided_by(d)}) was already applied "
        f"to taxonomy version {d.applied_in}{f' on {when[:10]}' if when else ''}, so undo cannot take it back: "
        f"change the reason in {taxonomy_path} itself{kept}"
    )


def _changelog_date(taxonomy_path: Path, version: int) -> str | None:
    """The date the changelog gives a version ('## Version 2 (2026-12-05)', as `apply_decisions` writes it)."""
    log = taxonomy_path.with_name(f"{taxonomy_path.stem}.changelog.md")
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    found = re.search(rf"^## Version {version} \((\d{{4}}-\d{{2}}-\d{{2}})\)", text, re.MULTILINE)
    return found.group(1) if found else None


def _refuse_if_merged_into(decisions: list[Decision], target: str, what: str) -> None:
    """Refuse a change to `target` (a reason id, or the proposal id of a new reason) while pending decisions merge
    into it: they would be left merged into nothing, and apply would stop on them."""
    joined = [d.proposal.name for d in decisions if d.into == target and d.applied_in is None]
    if joined:
        one = len(joined) == 1
        raise TaxonomyError(
            f"{', '.join(repr(n) for n in joined)} {'is' if one else 'are'} merged into {what}: undo "
            f"{'that' if one else 'those'} first"
        )


def _check_seen(current: Decision | None, seen: str | None, proposal: Proposal) -> None:
    if seen == NOT_CHECKED or seen == (current.revision if current else None):
        return
    if current is None:
        raise DecisionConflict(
            f"the decision on '{proposal.name}' ({proposal.proposal_id}) was undone while you were looking; "
            "reload to see it as it is now"
        )
    then = (
        f"it is written into version {current.applied_in} of the taxonomy now and can no longer be changed"
        if current.applied_in is not None
        else "reload to see their decision, then change it if you still want to"
    )
    raise DecisionConflict(
        f"{current.by} {current.decision} '{proposal.name}' ({proposal.proposal_id}) at {current.at} while you were "
        f"looking; {then}"
    )


def _not_a_group(path: Path, reason: Reason | None, parent: str, choices: list[Reason]) -> str:
    """Why `parent` cannot hold a new reason, and the groups that can (or how to make one)."""
    if reason is None:
        why = f"parent '{parent}' is not a reason id of {path}" + did_you_mean(parent, {r.id: r.name for r in choices})
    else:
        why = f"'{parent}' ({reason.name}) is a reason of {path} but not a reason group: " + (
            f"it is itself under '{reason.parent}' (reasons go two levels deep)"
            if reason.parent
            else f"it is {reason.status}"
            if reason.status != "active"
            else "it is a secondary step"
        )
    listed = ", ".join(f"{r.id} ({r.name})" for r in choices[:12]) + (
        f" and {len(choices) - 12} more" if len(choices) > 12 else ""
    )
    make = f"add a reason without a parent to {path} to make a new group"
    return (
        f"{why}; the groups to use: {listed}, or {make}"
        if listed
        else f"{why}; {path} has no groups yet: leave --parent out, or {make}"
    )


def _check_accept(
    path: Path,
    taxonomy: Taxonomy | None,
    decisions: list[Decision],
    proposal: Proposal,
    name: str | None,
    parent: str | None,
    into: str | None,
    parts: list[SplitPart] | None,
) -> None:
    """Everything `apply` would trip over later, said now, while the person deciding is still there."""
    _check_names(taxonomy, decisions, proposal, [] if into else _names_given(proposal, name, parts))
    reasons = taxonomy.by_id() if taxonomy else {}
    if proposal.kind in _CHANGES_REASONS:
        gone = [r for r in proposal.reason_ids if r not in reasons or reasons[r].status != "active"]
        if gone:
            raise TaxonomyError(
                f"this proposal changes {', '.join(repr(r) for r in gone)}, which {path} no longer holds as an active "
                "reason: run discover again with the current taxonomy"
            )
    if parent:
        if proposal.kind not in _NEW_REASONS:
            raise TaxonomyError(f"a parent is for the new reasons a proposal adds; this {proposal.kind} adds none")
        choices = parent_choices(taxonomy)
        if parent not in {r.id for r in choices}:
            raise TaxonomyError(_not_a_group(path, reasons.get(parent), parent, choices))
    if proposal.kind in _CHANGES_REASONS:
        retired = proposal.reason_ids[-1] if proposal.kind == "merge" else proposal.reason_ids[0]
        _refuse_if_merged_into(decisions, retired, f"'{retired}', which this {proposal.kind} retires")
    if into:
        if proposal.kind != "new_reason":
            raise TaxonomyError("only a new-reason proposal can be merged into a reason")
        if name or parent:
            raise TaxonomyError("a merge keeps the name and place of the reason it joins: give no name or parent")
        targets = dict(merge_choices(taxonomy, decisions, proposal))
        if into not in targets:
            reason, retiring = (taxonomy.by_id() if taxonomy else {}).get(into), _retired_by_pending(decisions)
            if into in retiring:
                why = (
                    f"'{into}' is retired by proposal {retiring[into].proposal_id} ('{retiring[into].proposal.name}'), "
                    "accepted and not yet applied"
                )
            elif reason is not None and reason.status == "active":
                why = f"'{into}' is a reason group or a secondary step: contacts are not given it"
            elif reason is not None:
                why = f"'{into}' is {reason.status} in {path}"
            else:
                why = f"'{into}' is neither a reason of {path} nor a new reason accepted from this run" + did_you_mean(
                    into, targets
                )
            shown = list(targets.items())
            listed = ", ".join(f"{k} ({v})" for k, v in shown[:12]) + (
                f" and {len(shown) - 12} more" if len(shown) > 12 else ""
            )
            raise TaxonomyError(f"{why}; the choices: {listed or 'none'}")
    if proposal.kind == "split":
        if not parts or len(parts) != len(proposal.cluster_ids):
            raise TaxonomyError(f"this split makes {len(proposal.cluster_ids)} reasons: give one part for each")
        if name and len(name.split(";")) != len(parts):
            raise TaxonomyError(f"this split has {len(parts)} parts: give {len(parts)} names separated by ';'")


def _check_names(taxonomy: Taxonomy | None, decisions: list[Decision], proposal: Proposal, names: list[str]) -> None:
    """The names a decision gives: each one line, not empty, and not the name of an active reason (a split part may
    keep its reason's) or of a reason another accepted decision adds: two reasons of one name cannot be told apart."""
    for name in names:
        if not name:
            raise TaxonomyError("a name is empty: give each new reason a name")
        if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in name):
            raise TaxonomyError(f"the name {name!r} holds a line break or tab: a reason's name is one line")
    seen: dict[str, str] = {}
    for name in names:
        if plain_name(name) in seen:
            raise TaxonomyError(f"'{name}' is given twice: give each new reason its own name")
        seen[plain_name(name)] = name
    changed = set(proposal.reason_ids) if proposal.kind in ("split", "merge") else set()
    for r in taxonomy.reasons if taxonomy else []:
        if r.status == "active" and r.id not in changed and plain_name(r.name) in seen:
            raise TaxonomyError(
                f"'{seen[plain_name(r.name)]}' is already the name of '{r.id}': give another name, or merge the "
                "proposal into that reason"
            )
    for d in decisions:
        if d.decision != "accepted" or d.applied_in is not None or d.proposal_id == proposal.proposal_id:
            continue
        taken = [n for n in _new_names(d) if plain_name(n) in seen]
        if taken and _same(proposal, d):
            raise TaxonomyError(
                f"proposal {d.proposal_id} of an earlier run, on the same evidence, is accepted already as "
                f"'{taken[0]}' (by {d.by}): nothing more to do, or undo that decision first"
            )
        if taken:
            raise TaxonomyError(
                f"'{taken[0]}' is the name of a reason proposal {d.proposal_id} ('{d.proposal.name}') adds, accepted by "
                f"{d.by} and not yet applied: give another name, or merge this proposal into that one"
            )


def decided(
    proposals: list[Proposal], decisions: list[Decision], growth: float, taxonomy_version: int | None
) -> list[Proposal]:
    """A run's proposals, made with `taxonomy_version` (None: none), with the status the decisions on file give
    them now (a run's own table says what they were when it was written)."""
    fresh = [p.model_copy(update={"status": "open"}) for p in proposals]
    mark_status(fresh, decisions, growth, taxonomy_version)
    return fresh


def evidence_growth(config: dict) -> float:
    """`taxonomy.proposals.evidence_growth` of a run's stored config (today's default for a run made before it)."""
    return load_config(base=config).taxonomy.proposals.evidence_growth


def mark_status(
    proposals: list[Proposal], decisions: list[Decision], growth: float, taxonomy_version: int | None
) -> None:
    """accepted / rejected / open, from earlier decisions, for proposals made with `taxonomy_version` of the
    taxonomy (None: none). An acceptance holds until it is applied, and for proposals made before the version it was
    applied in; one made since proposes again what that version did not settle, and is open. A rejection also
    covers a proposal of the same kind and reasons on the same clusters (cluster ids of the same chain of runs) or
    whose keywords mostly overlap; it lapses once the evidence has grown by `growth`."""
    for p in proposals:
        d = decision_for(p, decisions)
        if d is None:
            continue
        if d.decision == "accepted" and (d.applied_in is None or d.applied_in > (taxonomy_version or 0)):
            p.status = "accepted"
        elif d.decision == "rejected":
            before = d.proposal.contacts
            if p.contacts >= before * (1 + growth) and p.contacts > before:
                p.evidence += f"; rejected on {d.at[:10]} with {before} contacts, now {p.contacts}"
            else:
                p.status = "rejected"


def _same(p: Proposal, d: Decision) -> bool:
    if d.proposal_id == p.proposal_id:
        return True
    old = d.proposal
    if old.kind != p.kind or sorted(old.reason_ids) != sorted(p.reason_ids):
        return False
    shared = _shared_keywords(p, old)
    # the same clusters of one chain of runs (ids kept from run to run) that still share a keyword: their keywords
    # drift as contacts come and go (5 of 11 shared); an id a chain gave anew to other contacts shares none
    same_clusters = p.cluster_lineage is not None and p.cluster_lineage == old.cluster_lineage
    if same_clusters and p.cluster_ids and sorted(p.cluster_ids) == sorted(old.cluster_ids) and shared > 0:
        return True
    return shared >= 0.5


def _shared_keywords(p: Proposal, old: Proposal) -> float:
    """The share of two proposals' top keywords they have in common (Jaccard). Keywords are compared as the lookup
    table spells them and in any order, so a decision of a version that wrote "pin numb" and "numb pin" holds for
    the proposal now keyed "pin number" (pipeline.text.lemmas, describe.py)."""
    a, b = ({frozenset(as_looked_up(k).split()) for k in keywords[:8]} for keywords in (old.keywords, p.keywords))
    return len(a & b) / max(len(a | b), 1)


def next_taxonomy(taxonomy_path: Path) -> Preview:
    """The next version from the accepted, not yet applied decisions, without writing anything: what `apply`
    writes, for people to read first. A missing taxonomy file starts at version 1."""
    taxonomy_path = _real(taxonomy_path)
    decisions = load_decisions(taxonomy_path)
    pending = [d for d in decisions if d.decision == "accepted" and d.applied_in is None]
    current = load_taxonomy(taxonomy_path) if taxonomy_path.is_file() else None
    reasons = {r.id: r for r in current.reasons} if current else {}
    added: dict[str, list[str]] = {}  # proposal id -> the reason ids it adds
    taken = _kept_versions_ids(taxonomy_path) | {rid for d in decisions for rid in d.added or []}
    # applied before decisions recorded their ids: the id each new name was most likely given
    # (both ways of making it: a name in other letters was not written in Latin ones before)
    taken |= {
        slug(n, transliterate)
        for d in decisions
        if d.applied_in is not None and d.added is None
        for n in _new_names(d)
        if n
        for transliterate in (True, False)
    }
    changes: list[str] = []
    for d in sorted(pending, key=lambda d: d.into is not None):  # merges last, once what they join exists
        changes += _apply(d, reasons, added, taken)
    _refuse_names_taken_since(taxonomy_path, pending, added, reasons)
    version = current.version + 1 if current else 1
    updated = Taxonomy.model_validate({"version": version, "reasons": [r.model_dump() for r in reasons.values()]})
    parse_taxonomy(updated.model_dump(), str(taxonomy_path))  # the same structural checks as on load
    return Preview(current, updated, changes, pending, added)


def _refuse_names_taken_since(
    taxonomy_path: Path, pending: list[Decision], added: dict[str, list[str]], reasons: dict[str, Reason]
) -> None:
    """Each name a pending decision gives is still its reason's alone: accepting checked it against the file then,
    but the file may have been edited since, and two active reasons of one name cannot be told apart."""
    for d in pending:
        named = list(added.get(d.proposal_id, []))
        if d.proposal.kind == "merge" and d.name:
            named.append(d.proposal.reason_ids[0])
        for rid in named:
            twins = [
                r.id
                for r in reasons.values()
                if r.status == "active" and r.id != rid and plain_name(r.name) == plain_name(reasons[rid].name)
            ]
            if twins:
                raise TaxonomyError(
                    f"'{reasons[rid].name}', the name proposal {d.proposal_id} gives (accepted by {d.by}), is also the "
                    f"name of '{twins[0]}' in {taxonomy_path} now: rename one of them in the file, or undo the decision "
                    f"(touchless proposals undo {d.proposal_id}) and accept it again under another name or merged "
                    f"into '{twins[0]}'"
                )


def apply_decisions(taxonomy_path: Path, seen: str | None = NOT_CHECKED) -> tuple[Taxonomy, list[str]]:
    """Write the next version of the taxonomy from the accepted, not yet applied decisions.

    The current file is kept as `<stem>.v<version>.yaml`; `<stem>.changelog.md` gets one line per change. A
    missing taxonomy file starts at version 1 (accepting the first run's new reasons builds the taxonomy).
    `seen`: the revision of the preview the person read; when the decisions changed since, nothing is written."""
    taxonomy_path = _real(taxonomy_path)
    with decisions_lock(taxonomy_path):
        preview = next_taxonomy(taxonomy_path)
        if not preview.pending:
            there = (
                ""
                if taxonomy_path.is_file()
                else f" ({taxonomy_path} does not exist: give --taxonomy with the file `proposals accept` named)"
            )
            raise TaxonomyError(f"no accepted proposals wait to be applied to {taxonomy_path}{there}")
        if seen not in (NOT_CHECKED, preview.revision):
            raise DecisionConflict(
                "the decisions or the taxonomy changed since you read the next version; reload to read it again"
            )
        current, updated = preview.current, preview.updated
        if current is not None:
            kept = taxonomy_path.with_name(f"{taxonomy_path.stem}.v{current.version}.yaml")
            if kept.exists() and kept.read_bytes() != taxonomy_path.read_bytes():
                raise TaxonomyError(
                    f"{kept} already exists and differs from the current taxonomy {taxonomy_path} (version "
                    f"{current.version}): touchless keeps the current version under that name before writing the "
                    f"next, and will not replace what is there (an earlier version {current.version} kept so, or a "
                    "file of yours); move or rename it, then apply again"
                )
            shutil.copy2(taxonomy_path, kept)
        taken = {d.proposal_id for d in preview.pending}
        now = datetime.now(UTC)
        decisions = [
            d.model_copy(
                update={
                    "applied_in": updated.version,
                    "applied_at": now.isoformat(timespec="seconds"),
                    "added": preview.added.get(d.proposal_id) or None,
                }
            )
            if d.proposal_id in taken and d.applied_in is None
            else d
            for d in load_decisions(taxonomy_path)
        ]
        log = taxonomy_path.with_name(f"{taxonomy_path.stem}.changelog.md")
        date = now.date().isoformat()
        entry = f"\n## Version {updated.version} ({date})\n\n" + "".join(f"- {c}\n" for c in preview.changes)
        # the taxonomy, its decisions marked applied and the changelog: all or none (one written alone, the next
        # apply would add its reasons twice)
        write_together(
            [
                (
                    taxonomy_path,
                    edited_text(taxonomy_path.read_text("utf-8"), updated)
                    if current
                    else yaml_text(taxonomy_data(updated)),
                ),
                (decisions_path(taxonomy_path), _decisions_text(decisions)),
                (log, (log.read_bytes() if log.is_file() else b"") + entry.encode("utf-8")),  # appended as is
            ]
        )
    return updated, preview.changes


def _kept_versions_ids(taxonomy_path: Path) -> set[str]:
    """The reason ids of every earlier version kept beside the taxonomy (`<stem>.v<N>.yaml`): a new reason never
    takes the id of one deleted by hand since, which the runs made then still name. A file of that name that is not
    a taxonomy (a person's own) is passed over."""
    pattern = re.compile(rf"{re.escape(taxonomy_path.stem)}\.v\d+\.yaml")
    ids: set[str] = set()
    for kept in sorted(taxonomy_path.parent.iterdir()):
        if not pattern.fullmatch(kept.name):
            continue
        try:
            reasons = read_yaml(kept, "kept taxonomy version", TaxonomyError).get("reasons")
        except TaxonomyError:
            continue
        if isinstance(reasons, list):
            ids |= {r["id"] for r in reasons if isinstance(r, dict) and isinstance(r.get("id"), str)}
    return ids


def _apply(d: Decision, reasons: dict[str, Reason], added: dict[str, list[str]], taken: set[str]) -> list[str]:
    p = d.proposal
    # one line of the changelog: a note's own line breaks could write headings into it ("## Version 99")
    who = f"proposal {d.proposal_id}, accepted by {d.by} on {d.at[:10]}" + (
        f": {' '.join(d.why.split())}" if d.why else ""
    )
    if d.into:
        target = d.into if d.into in reasons else next(iter(added.get(d.into, [])), None)
        if target is None:
            raise TaxonomyError(
                f"proposal {d.proposal_id} is merged into '{d.into}', which is neither a reason nor a new reason "
                "accepted with it: undo that decision, or accept the proposal it names"
            )
        reason = reasons[target]
        if reason.status != "active":
            raise TaxonomyError(
                f"proposal {d.proposal_id} ('{p.name}') is merged into '{target}', which is {reason.status} in the "
                f"taxonomy now: undo that decision (touchless proposals undo {d.proposal_id}) and merge the proposal "
                "into an active reason"
            )
        # every example the merge brings is added: capped at ten, a reason that had ten took none and the merge
        # changed nothing (its contacts stayed apart, and the next run proposed it again)
        new = list(dict.fromkeys(e for e in p.examples[:5] if e not in reason.examples))
        reasons[target] = reason.model_copy(update={"examples": reason.examples + new})
        adding = f"adding {len(new)} of its examples" if new else "whose examples it holds already"
        return [f"merged '{p.name}' into '{target}', {adding} ({who})"]
    if p.kind in ("new_reason", "secondary"):
        rid = _unique(slug(d.name or p.name), reasons, taken)
        parent = _parent(d.parent, reasons)
        also = becomes_group(reasons, parent)
        reasons[rid] = Reason(
            id=rid,
            name=d.name or p.name,
            description=p.description if d.description is None else d.description,
            examples=p.examples[:5],
            parent=parent,
            kind="secondary" if p.kind == "secondary" else "reason",
        )
        added[d.proposal_id] = [rid]
        return [f"added {'secondary step' if p.kind == 'secondary' else 'reason'} '{rid}' ({who})"] + (
            [also] if also else []
        )
    if p.kind == "split":
        old = _existing(p.reason_ids[0], reasons, d)
        parts = d.parts or []
        names = [n.strip() for n in d.name.split(";")] if d.name else [part.name for part in parts]
        new_ids = []
        parent = _parent(d.parent, reasons) or old.parent
        also = becomes_group(reasons, parent)
        for part, name in zip(parts, names):
            rid = _unique(slug(name), reasons, taken)
            reasons[rid] = Reason(
                id=rid,
                name=name,
                description=part.description,
                examples=part.examples[:5],
                parent=parent,
            )
            new_ids.append(rid)
        added[d.proposal_id] = new_ids
        reasons[old.id] = old.model_copy(update={"status": "retired", "replaced_by": new_ids})
        return [f"split '{old.id}' into {', '.join(repr(i) for i in new_ids)} ({who})"] + ([also] if also else [])
    if p.kind == "merge":
        keep, gone = (_existing(r, reasons, d) for r in p.reason_ids)
        reasons[keep.id] = keep.model_copy(
            update={
                "name": d.name or keep.name,
                "description": d.description or keep.description,
                "examples": list(dict.fromkeys(keep.examples + gone.examples)),  # all: the merged one's contacts
            }
        )
        reasons[gone.id] = gone.model_copy(update={"status": "retired", "replaced_by": [keep.id]})
        return [f"merged '{gone.id}' into '{keep.id}' ({who})"]
    if p.kind == "retire":
        reason = _existing(p.reason_ids[0], reasons, d)
        reasons[reason.id] = reason.model_copy(update={"status": "retired"})
        return [f"retired '{reason.id}' ({who})"]
    return [f"noted mislabelling {' -> '.join(p.reason_ids)}; no change to the reasons ({who})"]


def _existing(rid: str, reasons: dict[str, Reason], d: Decision) -> Reason:
    if rid not in reasons:
        raise TaxonomyError(
            f"proposal {d.proposal_id} ('{d.proposal.name}'), accepted by {d.by}, changes reason '{rid}', which is no "
            f"longer in the taxonomy: undo that decision (touchless proposals undo {d.proposal_id}), or put the "
            "reason back"
        )
    return reasons[rid]


def _parent(parent: str | None, reasons: dict[str, Reason]) -> str | None:
    if parent and parent not in reasons:
        raise TaxonomyError(
            f"parent '{parent}' is not a reason in the taxonomy"
            + did_you_mean(parent, {k: r.name for k, r in reasons.items()})
        )
    return parent


def _unique(rid: str, reasons: dict[str, Reason], taken: set[str]) -> str:
    """`rid`, or `rid_2`, `rid_3` ... where a reason of this or an earlier version has it."""
    candidate, n = rid, 2
    while candidate in reasons or candidate in taken:
        candidate, n = f"{rid}_{n}", n + 1
    return candidate
