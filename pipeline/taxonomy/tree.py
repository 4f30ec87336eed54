"""The reason taxonomy: a small list of why customers contact you, refined over time by its owners.

A taxonomy file holds `version` and `reasons`. Each reason has a stable `id`, a `name`, a `description`, a few
`examples`, an optional `parent` (two levels: reason groups and reasons), a `status` (active or retired) and a
`kind`: `reason`, or `secondary` for a process step (authentication, "speak to a human") that is tracked but never
ranked as a cause; an optional `owner` (the department whose process creates the contact: "charge the costs to the
department that originates them"; a group's owner passes to its reasons) and `action` (eliminate, automate,
simplify, keep). Validation names what is wrong and where (duplicate ids, unknown parents, cycles, depth).
"""

from __future__ import annotations

import difflib
import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.config import read_yaml, yaml_text
from pipeline.errors import TaxonomyError


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    name: str = Field(min_length=1)

    description: str = ""
    examples: list[str] = []
    parent: str | None = None
    status: Literal["active", "retired"] = "active"
    kind: Literal["reason", "secondary"] = "reason"
    replaced_by: list[str] = []  # set when a split or merge retired it
    owner: str | None = None  # the department whose process creates these contacts (a group passes it down)
    action: Literal["eliminate", "automate", "simplify", "keep"] | None = None  # what to do about the cause

    @field_validator("name")
    @classmethod
    def _named(cls, name: str) -> str:
        """A name of spaces passed, and ranked as a blank cause."""
        if not name.strip():
            raise ValueError("a name needs a word, not only spaces")
        return name


class Taxonomy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1)
    reasons: list[Reason]

    def by_id(self) -> dict[str, Reason]:
        return {r.id: r for r in self.reasons}

    def owner_of(self, reason_id: str) -> str | None:
        """A reason's owner, or its group's when it names none."""
        reasons = self.by_id()
        reason = reasons.get(reason_id)
        if reason is None:
            return None
        return reason.owner or (reasons[reason.parent].owner if reason.parent in reasons else None)

    def assignable(self) -> list[Reason]:
        """Active reasons without active children: the ones a contact can be given (groups only aggregate)."""
        held = groups(self.reasons)
        return [r for r in self.reasons if r.status == "active" and r.id not in held]


def groups(reasons: Iterable[Reason]) -> set[str]:
    """The ids of reason groups: those active reasons sit under (contacts are given the other active reasons)."""
    return {r.parent for r in reasons if r.parent and r.status == "active"}


def load_taxonomy(path: str | Path) -> Taxonomy:
    data = read_yaml(Path(path), "taxonomy file", TaxonomyError)
    try:
        return parse_taxonomy(data, str(path))
    except TaxonomyError as exc:  # "reason #27" names its line too: a long file is read in an editor
        lines = _reason_lines(Path(path).read_text(encoding="utf-8"))

        def with_line(m: re.Match) -> str:
            number, named = int(m.group(1)), m.group(2)
            if number > len(lines):
                return m.group(0)
            return f"reason #{number} ({named + ', ' if named else ''}line {lines[number - 1]})"

        raise TaxonomyError(re.sub(r"reason #(\d+)(?: \(('[^']*')\))?", with_line, str(exc))) from None


def _reason_lines(text: str) -> list[int]:
    """The line each item of the file's `reasons` list starts on (none where the file does not read so)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    items = next((v for k, v in root.value if getattr(k, "value", None) == "reasons"), None)
    return [item.start_mark.line + 1 for item in items.value] if isinstance(items, yaml.SequenceNode) else []


def parse_taxonomy(data: object, source: str) -> Taxonomy:
    if not isinstance(data, dict):
        raise TaxonomyError(f"{source}: a taxonomy is a mapping with 'version' and 'reasons'")
    if not data:
        raise TaxonomyError(
            f"{source} is empty: a taxonomy holds a 'version' and its 'reasons' (configs/taxonomy.yaml in touchless's "
            "repository is an example; `touchless taxonomy init` writes a first one from a run)"
        )
    try:
        taxonomy = Taxonomy.model_validate(data)
    except ValidationError as exc:
        lines = [f"  - {_where(err['loc'], data)}: {_problem(err)}" for err in exc.errors()]
        raise TaxonomyError(f"{source} is not a valid taxonomy:\n" + "\n".join(lines)) from None
    _check_structure(taxonomy, source)
    return taxonomy


def _problem(err: dict) -> str:
    """pydantic's complaint in the words of a person editing the file."""
    key = err["loc"][-1] if err["loc"] else ""
    if err["type"] == "extra_forbidden":
        known = Reason.model_fields if len(err["loc"]) > 1 else Taxonomy.model_fields
        close = difflib.get_close_matches(str(key), list(known), n=1)
        return "unknown key" + (f": did you mean '{close[0]}'?" if close else f" (the keys: {', '.join(known)})")
    if key == "reasons" and err.get("input") is None:
        return "is empty: list the reasons under it, or write 'reasons: []' for none yet"
    empty = err["type"] in ("string_type", "list_type") and err.get("input") is None
    if empty or err["type"] == "string_too_short":
        model = Reason if len(err["loc"]) > 1 else Taxonomy
        field = model.model_fields.get(str(key))
        return "is empty: give it a value" + ("" if field is None or field.is_required() else ", or leave the key out")
    if err["type"] == "missing":
        return "is missing"
    if err["type"] == "value_error":
        return err["msg"].removeprefix("Value error, ")
    if err["type"] == "literal_error":  # status: retird
        allowed = re.findall(r"'([^']*)'", err["ctx"]["expected"])
        close = difflib.get_close_matches(str(err["input"]), allowed, n=1)
        return f"'{err['input']}' is not one of {', '.join(allowed)}" + (
            f": did you mean '{close[0]}'?" if close else ""
        )
    if key == "id" and err["type"] == "string_pattern_mismatch":
        return (
            f"'{err['input']}' is not an id: ids are lower-case letters, digits, '_', '.' and '-', starting with a "
            "letter or digit"
        )
    return err["msg"]


def _where(loc: tuple, data: dict) -> str:
    if len(loc) >= 2 and loc[0] == "reasons" and isinstance(loc[1], int):
        reasons = data.get("reasons") or []
        rid = reasons[loc[1]].get("id") if loc[1] < len(reasons) and isinstance(reasons[loc[1]], dict) else None
        field = ".".join(str(p) for p in loc[2:])
        return f"reason #{loc[1] + 1}" + (f" ('{rid}')" if rid else "") + (f", field '{field}'" if field else "")
    return ".".join(str(p) for p in loc)


def _check_structure(taxonomy: Taxonomy, source: str) -> None:
    problems = []
    seen: dict[str, int] = {}
    for i, reason in enumerate(taxonomy.reasons, start=1):
        if reason.id in seen:
            problems.append(f"reason #{i}: id '{reason.id}' is already used by reason #{seen[reason.id]}")
        seen.setdefault(reason.id, i)
    # two reasons contacts are given, of one name: a group may share its only reason's name (taxonomy init)
    given = {r.id for r in taxonomy.assignable()}
    named: dict[str, tuple[int, str]] = {}  # the name, case and spaces aside -> (#, id)
    for i, reason in enumerate(taxonomy.reasons, start=1):
        plain = plain_name(reason.name)
        if reason.id in given and plain in named:
            first, first_id = named[plain]
            problems.append(
                f"reason #{i} ('{reason.id}') has the name of reason #{first} ('{first_id}'), '{reason.name}' (case "
                "and spaces aside): people could not tell them apart; rename one"
            )
        if reason.id in given:
            named.setdefault(plain, (i, reason.id))
    ids = taxonomy.by_id()
    names = {r.id: r.name for r in taxonomy.reasons}
    for i, reason in enumerate(taxonomy.reasons, start=1):
        others = {k: v for k, v in names.items() if k != reason.id}  # never itself: that is a cycle
        if reason.parent is not None and reason.parent not in ids:
            problems.append(
                f"reason #{i} ('{reason.id}'): parent '{reason.parent}' is not a reason in this file"
                + did_you_mean(reason.parent, others)
            )
        for target in reason.replaced_by:
            if target not in ids:
                problems.append(
                    f"reason #{i} ('{reason.id}'): replaced_by '{target}' is not a reason in this file"
                    + did_you_mean(target, others)
                )
            elif target == reason.id:
                problems.append(f"reason #{i} ('{reason.id}'): replaced_by names the reason itself")
        group = ids.get(reason.parent) if reason.parent else None
        if reason.status == "active" and group is not None and group.status == "retired":
            problems.append(
                f"reason #{i} ('{reason.id}') is active under the retired group '{group.id}', so contacts would "
                f"still be given it: retire it too, move it under an active group (parent), or make '{group.id}' "
                "active again"
            )
    for reason in taxonomy.reasons:
        chain, current = [reason.id], reason
        while current.parent in ids:
            current = ids[current.parent]
            if current.id in chain:
                problems.append(f"reasons {' -> '.join(chain + [current.id])} form a cycle of parents")
                break
            chain.append(current.id)
        else:
            if len(chain) > 2:
                problems.append(
                    f"reason '{reason.id}' is {len(chain)} levels deep ({' -> '.join(chain)}); "
                    f"use two levels, reason groups and reasons: put it under '{chain[-1]}' (parent: {chain[-1]}), "
                    f"or make '{chain[1]}' a group of its own (no parent)"
                )
    if problems:
        raise TaxonomyError(
            f"{source} is not a valid taxonomy:\n" + "\n".join(f"  - {p}" for p in sorted(set(problems)))
        )


def plain_name(name: str) -> str:
    """A name as people read it: case and spacing aside."""
    return " ".join(name.casefold().split())


def did_you_mean(value: str, reasons: dict[str, str]) -> str:
    """': did you mean 'id' (Name)?' for the reason (`reasons`: id -> name) a mistyped id most likely meant: the one
    it names (people give names where ids are asked for), else the closest id; '' when none is close."""
    named = [rid for rid, name in reasons.items() if plain_name(name) == plain_name(value)]
    close = named or difflib.get_close_matches(value, list(reasons), n=1, cutoff=0.75)
    return f": did you mean '{close[0]}' ({reasons[close[0]]})?" if close else ""


def slug(name: str, transliterate: bool = True) -> str:
    """A reason id made from a name: 'Card not arrived' -> 'card_not_arrived'; a name in other letters is written
    in Latin ones first ('Ärger' -> 'arger', '退款' -> 'tui_kuan'): ids are ASCII, and were 'reason', 'reason_2'
    (`transliterate=False`: as they were, the id an earlier version gave)."""
    if transliterate and not name.isascii():
        from slugify import slugify

        name = slugify(name, separator=" ")
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:60] or "reason"


def sentence_case(label: str) -> str:
    """'card not arrived' -> 'Card not arrived'."""
    return label[:1].upper() + label[1:]


def taxonomy_data(taxonomy: Taxonomy) -> dict:
    """The taxonomy as its file holds it: `version` always, other fields only where they differ from defaults."""
    data = taxonomy.model_dump(exclude_defaults=True)
    data["version"] = taxonomy.version
    return data


def edited_text(text: str, updated: Taxonomy) -> str:
    """`updated` as YAML written over `text`, the file its owners keep: their comments, order, quoting and layout
    stay wherever the content did not change (a value changed is written anew, a new reason is added at the end).
    Should the edited text not read back as `updated`, it is written plainly (the kept version has the comments)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.util import load_yaml_guess_indent

    data = taxonomy_data(updated)
    rt = YAML()
    rt.preserve_quotes = True
    rt.width = 4096  # their long lines stay as they are, never folded anew
    doc, indent, dash = load_yaml_guess_indent(text, yaml=rt)
    rt.indent(mapping=2, sequence=indent or 2, offset=dash or 0)  # their lists' indent, as guessed
    if not isinstance(doc, dict) or not isinstance(doc.get("reasons"), list):
        return yaml_text(data)
    doc["version"] = updated.version
    reasons = doc["reasons"]
    entries = {entry.get("id"): entry for entry in reasons if isinstance(entry, dict)}
    for wanted, reason in zip(data["reasons"], updated.reasons):
        if reason.id in entries:
            _edit(entries[reason.id], wanted, reason)
        else:
            reasons.append(_as_read(wanted))
    for gone in [e for e in reasons if not isinstance(e, dict) or e.get("id") not in updated.by_id()]:
        reasons.remove(gone)
    out = io.StringIO()
    rt.dump(doc, out)
    written = out.getvalue()
    try:
        same = parse_taxonomy(yaml.safe_load(written), "the edited taxonomy") == updated
    except (TaxonomyError, yaml.YAMLError):
        same = False
    return written if same else yaml_text(data)


def _as_read(value):
    """`value` with each string that YAML 1.1 (how the file is read back) would read as something else quoted:
    ruamel writes YAML 1.2, which leaves 'no', 'on' or '1:30' plain, and those would come back as a bool or a
    number."""
    from ruamel.yaml.scalarstring import SingleQuotedScalarString

    if isinstance(value, dict):
        return {k: _as_read(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_read(v) for v in value]
    if isinstance(value, str):
        try:
            plain = yaml.safe_load(value) == value
        except Exception:  # noqa: BLE001 - PyYAML raises ValueError too ('2026-02-30', '!!int abc'): quoted then
            plain = False
        return value if plain else SingleQuotedScalarString(value)
    return value


def _edit(entry: dict, data: dict, reason: Reason) -> None:
    """One reason's mapping as the file holds it, changed where `reason` differs: a value written out at its default
    and still so is left."""
    full = reason.model_dump()
    for key in [k for k in entry if k not in data and entry[k] != full.get(k)]:
        del entry[key]
    for key, value in data.items():
        if entry.get(key) != value and not _edited_in_place(entry.get(key), value):
            entry[key] = _as_read(value)


def _edited_in_place(items, wanted) -> bool:
    """Make the list `items` (as the file holds it) into `wanted` in place, when `wanted` keeps the items that stay
    in their order and adds any new ones at the end (a merge adds examples): the items kept keep their comments and
    quoting. False, and `items` untouched, where the list changed otherwise."""
    if not isinstance(items, list) or not isinstance(wanted, list):
        return False
    kept = [item for item in items if item in wanted]
    if kept != wanted[: len(kept)]:
        return False
    for i in reversed(range(len(items))):
        if items[i] not in wanted:
            del items[i]
    below = _lines_below(items) if len(wanted) > len(kept) else None  # only what is added goes above them
    items.extend(_as_read(value) for value in wanted[len(kept) :])
    if below is not None:
        items.ca.items[len(items) - 1] = [below, None, None, None]
    return True


def _lines_below(items):
    """ruamel keeps comment lines that follow a list (`# owner below: ana` before the next key) on its last item:
    items added after it would land below them, inside the list. Those lines, taken off the last item (its own
    same-line comment stays) to be put on the new last one; None where there are none."""
    from ruamel.yaml.tokens import CommentToken

    comments = getattr(items, "ca", None)
    tokens = comments.items.get(len(items) - 1) if comments is not None and items else None
    if not tokens or tokens[0] is None:
        return None
    same_line, _, below = tokens[0].value.partition("\n")
    if not below:
        return None
    if same_line.strip():
        tokens[0].value = same_line + "\n"
    else:
        del comments.items[len(items) - 1]
    return CommentToken("\n" + below, tokens[0].start_mark, None)


def from_clusters(clusters: pd.DataFrame) -> Taxonomy:
    """A first, two-level taxonomy from a run's clusters (`cluster_id`, `label`, `keywords`, `examples`,
    `group_id`, `group_label`): each reason group a parent, each cluster a reason under it, for an owner to edit."""
    reasons: list[Reason] = []
    taken: set[str] = set()

    def unique(name: str) -> str:
        base = candidate = slug(name)
        n = 2
        while candidate in taken:
            candidate, n = f"{base}_{n}", n + 1
        taken.add(candidate)
        return candidate

    for _, group in clusters.sort_values(["group_id", "size"], ascending=[True, False]).groupby("group_id", sort=False):
        label = str(group["group_label"].iloc[0])
        parent = unique(label)
        reasons.append(
            Reason(
                id=parent,
                name=sentence_case(label),
                description=f"Reasons about {label} (a group of {len(group)} cluster(s)).",
            )
        )
        for row in group.itertuples():
            keywords = ", ".join(list(row.keywords)[:5])
            reasons.append(
                Reason(
                    id=unique(row.label),
                    name=sentence_case(row.label),
                    parent=parent,
                    description=f"Customers contact us about {row.label} ({keywords}).",
                    examples=list(row.examples)[:3],
                )
            )
    return Taxonomy(version=1, reasons=reasons)
