"""Taxonomy owners' decisions on proposals, kept beside the taxonomy so they survive every re-run.

`<taxonomy>.decisions.yaml` records who accepted or rejected which proposal, when and why, with a snapshot of the
proposal as it was. A rejected proposal stays hidden in later runs unless its evidence grows materially
(`proposals.evidence_growth`). `apply_decisions` turns accepted proposals into the next taxonomy version, keeps
the previous file, and appends a changelog. The file is validated whole when read (`Decisions`), so a broken
decisions file is named before a run does any heavy work.
"""

from __future__ import annotations

import getpass
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline.config import read_yaml, write_yaml
from pipeline.errors import TaxonomyError
from pipeline.taxonomy.proposals import Proposal
from pipeline.taxonomy.tree import Reason, Taxonomy, load_taxonomy, parse_taxonomy, slug, taxonomy_data


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
    description: str | None = None
    parent: str | None = None
    parts: list[SplitPart] | None = None  # a split's new reasons
    applied_in: int | None = None  # the taxonomy version that took it in
    proposal: Proposal


class Decisions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    decisions: list[Decision] = []


def decisions_path(taxonomy_path: Path) -> Path:
    return taxonomy_path.with_name(f"{taxonomy_path.stem}.decisions.yaml")


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
    write_yaml(decisions_path(taxonomy_path), Decisions(decisions=decisions).model_dump(mode="json", exclude_none=True))


def record(
    taxonomy_path: Path,
    proposal: Proposal,
    decision: Literal["accepted", "rejected"],
    why: str | None = None,
    changes: dict[str, str | None] | None = None,
    parts: list[dict] | None = None,
    by: str | None = None,
) -> Decision:
    """Store an accept or reject; a later decision on the same proposal replaces an earlier one."""
    entry = Decision(
        proposal_id=proposal.proposal_id,
        decision=decision,
        by=by or getpass.getuser(),
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        why=why,
        **{k: v for k, v in (changes or {}).items() if v},
        parts=[SplitPart(**p) for p in parts] if parts else None,
        proposal=proposal.model_copy(update={"status": "open"}),
    )
    decisions = [d for d in load_decisions(taxonomy_path) if d.proposal_id != proposal.proposal_id]
    save_decisions(taxonomy_path, decisions + [entry])
    return entry


def mark_status(proposals: list[Proposal], decisions: list[Decision], growth: float) -> None:
    """accepted / rejected / open, from earlier decisions. A rejection also covers a proposal of the same kind and
    reasons whose keywords mostly overlap; it lapses once the evidence has grown by `growth`."""
    for p in proposals:
        for d in decisions:
            if not _same(p, d):
                continue
            if d.decision == "accepted" and d.applied_in is None:
                p.status = "accepted"
            elif d.decision == "rejected":
                before = d.proposal.contacts
                if p.contacts >= before * (1 + growth) and p.contacts > before:
                    p.evidence += f"; rejected on {d.at[:10]} with {before} contacts, now {p.contacts}"
                else:
                    p.status = "rejected"
            break


def _same(p: Proposal, d: Decision) -> bool:
    if d.proposal_id == p.proposal_id:
        return True
    old = d.proposal
    if old.kind != p.kind or sorted(old.reason_ids) != sorted(p.reason_ids):
        return False
    a, b = set(old.keywords[:8]), set(p.keywords[:8])
    return bool(a or b) and len(a & b) / max(len(a | b), 1) >= 0.5


def apply_decisions(taxonomy_path: Path) -> tuple[Taxonomy, list[str]]:
    """Write the next version of the taxonomy from the accepted, not yet applied decisions.

    The current file is kept as `<stem>.v<version>.yaml`; `<stem>.changelog.md` gets one line per change. A
    missing taxonomy file starts at version 1 (accepting the first run's new reasons builds the taxonomy)."""
    decisions = load_decisions(taxonomy_path)
    pending = [d for d in decisions if d.decision == "accepted" and d.applied_in is None]
    if not pending:
        raise TaxonomyError(f"no accepted proposals wait to be applied to {taxonomy_path}")
    current = load_taxonomy(taxonomy_path) if taxonomy_path.is_file() else Taxonomy(version=1, reasons=[])
    reasons = {r.id: r for r in current.reasons}
    changes: list[str] = []
    for d in pending:
        changes += _apply(d, reasons)
    version = current.version + 1 if taxonomy_path.is_file() else 1
    updated = Taxonomy.model_validate({"version": version, "reasons": [r.model_dump() for r in reasons.values()]})
    parse_taxonomy(updated.model_dump(), str(taxonomy_path))  # the same structural checks as on load
    if taxonomy_path.is_file():
        shutil.copy2(taxonomy_path, taxonomy_path.with_name(f"{taxonomy_path.stem}.v{current.version}.yaml"))
    write_yaml(taxonomy_path, taxonomy_data(updated))
    taken = {id(d) for d in pending}
    save_decisions(
        taxonomy_path, [d.model_copy(update={"applied_in": version}) if id(d) in taken else d for d in decisions]
    )
    log = taxonomy_path.with_name(f"{taxonomy_path.stem}.changelog.md")
    date = datetime.now(UTC).date().isoformat()
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"\n## Version {version} ({date})\n\n" + "".join(f"- {c}\n" for c in changes))
    return updated, changes


def _apply(d: Decision, reasons: dict[str, Reason]) -> list[str]:
    p = d.proposal
    who = f"proposal {d.proposal_id}, accepted by {d.by} on {d.at[:10]}" + (f": {d.why}" if d.why else "")
    if p.kind in ("new_reason", "secondary"):
        rid = _unique(slug(d.name or p.name), reasons)
        reasons[rid] = Reason(
            id=rid,
            name=d.name or p.name,
            description=d.description or p.description,
            examples=p.examples[:5],
            parent=_parent(d.parent, reasons),
            kind="secondary" if p.kind == "secondary" else "reason",
        )
        return [f"added {'secondary step' if p.kind == 'secondary' else 'reason'} '{rid}' ({who})"]
    if p.kind == "split":
        old = _existing(p.reason_ids[0], reasons)
        parts = d.parts or []
        names = [n.strip() for n in d.name.split(";")] if d.name else [part.name for part in parts]
        new_ids = []
        for part, name in zip(parts, names):
            rid = _unique(slug(name), reasons)
            reasons[rid] = Reason(
                id=rid,
                name=name,
                description=part.description,
                examples=part.examples[:5],
                parent=_parent(d.parent, reasons) or old.parent,
            )
            new_ids.append(rid)
        reasons[old.id] = old.model_copy(update={"status": "retired", "replaced_by": new_ids})
        return [f"split '{old.id}' into {', '.join(repr(i) for i in new_ids)} ({who})"]
    if p.kind == "merge":
        keep, gone = (_existing(r, reasons) for r in p.reason_ids)
        reasons[keep.id] = keep.model_copy(
            update={
                "name": d.name or keep.name,
                "description": d.description or keep.description,
                "examples": (keep.examples + gone.examples)[:10],
            }
        )
        reasons[gone.id] = gone.model_copy(update={"status": "retired", "replaced_by": [keep.id]})
        return [f"merged '{gone.id}' into '{keep.id}' ({who})"]
    if p.kind == "retire":
        reason = _existing(p.reason_ids[0], reasons)
        reasons[reason.id] = reason.model_copy(update={"status": "retired"})
        return [f"retired '{reason.id}' ({who})"]
    return [f"noted mislabelling {' -> '.join(p.reason_ids)}; no change to the reasons ({who})"]


def _existing(rid: str, reasons: dict[str, Reason]) -> Reason:
    if rid not in reasons:
        raise TaxonomyError(f"the accepted proposal names reason '{rid}', which is no longer in the taxonomy")
    return reasons[rid]


def _parent(parent: str | None, reasons: dict[str, Reason]) -> str | None:
    if parent and parent not in reasons:
        raise TaxonomyError(f"parent '{parent}' is not a reason in the taxonomy")
    return parent


def _unique(rid: str, reasons: dict[str, Reason]) -> str:
    candidate, n = rid, 2
    while candidate in reasons:
        candidate, n = f"{rid}_{n}", n + 1
    return candidate
