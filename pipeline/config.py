"""One typed config, validated once and passed down as small typed sections.

`configs/default.yaml` holds every parameter and its default; a user's file overrides some of them. The models
below carry no defaults of their own, so a default lives in one place only. Unknown keys are errors that name the
key (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from configs import DEFAULT_CONFIG_PATH
from pipeline.errors import ConfigError, TouchlessError


class Section(BaseModel):
    # no infinity: '.inf' in YAML reads as a float, gave infinite costs and scores, and was stored as null
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_yes_or_no_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """`true` where a number is asked for was read as 1 (`min_cluster_size: true` ran as 1), in a list or a
        mapping of numbers too (`target_reasons: [true, 5]`, `weights: {touches: true}`)."""
        given = value.values() if isinstance(value, dict) else value if isinstance(value, list | tuple) else [value]
        if any(isinstance(v, bool) for v in given) and _takes_numbers(cls.model_fields[info.field_name].annotation):
            raise ValueError("takes numbers, not true or false")
        return value


def _takes_numbers(annotation: Any) -> bool:
    """Whether a field's values are numbers: a number, or a list, tuple or mapping of them, or none."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _takes_numbers(args[0])
    if origin is dict:
        return _takes_numbers(args[1])
    kinds = [a for a in args if a is not type(None) and a is not Ellipsis]
    return all(_takes_numbers(k) for k in kinds) if kinds else annotation in (int, float)


class ColumnMap(Section):
    """Which column of the input file holds each field touchless knows."""

    contact_id: str
    text: str
    created_at: str
    customer_id: str
    ticket_id: str
    channel: str
    reason: str
    handle_time_s: str


class MessageColumnMap(Section):
    """Which column of a messages export holds each field touchless knows."""

    conversation_id: str
    role: str
    text: str
    sent_at: str
    customer_id: str
    channel: str


class MessagesConfig(Section):
    columns: MessageColumnMap
    roles: dict[Literal["customer", "agent", "bot", "system"], list[str]]


class InputConfig(Section):
    kind: Literal["auto", "contacts", "messages"]
    columns: ColumnMap
    messages: MessagesConfig
    encoding: str
    date_format: str | None
    dimensions: list[str]
    max_text_chars: int = Field(gt=0)
    on_duplicate_id: Literal["error", "keep_first"]


class CleaningConfig(Section):
    leading_greetings: list[str]
    no_reason_turns: list[str]
    boilerplate: list[str]
    footer_starts: list[str]
    signature_starts: list[str]

    @field_validator("leading_greetings", "no_reason_turns", "boilerplate", "footer_starts", "signature_starts")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        return [_regex(p) for p in patterns]


class RedactConfig(Section):
    names: bool
    id_patterns: dict[str, str]

    @field_validator("id_patterns")
    @classmethod
    def _compiles(cls, patterns: dict[str, str]) -> dict[str, str]:
        for name in patterns:
            if not re.fullmatch(r"[A-Za-z][A-Za-z_]*", name):
                raise ValueError(f"placeholder name '{name}' must be letters and underscores")
        return {name: _regex(p) for name, p in patterns.items()}


class LanguageConfig(Section):
    expected: list[str] = Field(min_length=1)
    other: Literal["keep", "set_aside"]
    min_chars: int = Field(ge=0)

    @field_validator("expected")
    @classmethod
    def _codes(cls, languages: list[str]) -> list[str]:
        """The identifier answers in ISO 639-1 codes: 'english' matched no contact, and 81% were set aside."""
        wrong = [code for code in languages if not re.fullmatch(r"[a-z]{2}", code)]
        if wrong:
            raise ValueError(f"give two-letter ISO 639-1 codes such as en, de, fr (not {', '.join(map(repr, wrong))})")
        return languages


class PrepareConfig(Section):
    batch_size: int = Field(gt=0)
    processes: int = Field(ge=0)
    clean: bool
    cleaning: CleaningConfig
    redact: RedactConfig
    language: LanguageConfig
    duplicate_similarity: float = Field(gt=0, le=1)


def _regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"'{pattern}' is not a valid regular expression: {exc}") from None
    return pattern


class EmbeddingConfig(Section):
    model: str
    batch_size: int = Field(gt=0)
    precision: Literal["auto", "bf16", "fp32"]
    threads: int = Field(ge=0)
    cache_dir: str | None
    chunk_size: int = Field(gt=0)
    partition_size: int = Field(gt=0)


class ReduceConfig(Section):
    n_components: int = Field(ge=2)
    n_neighbors: int = Field(ge=2)
    min_dist: float = Field(ge=0)
    # UMAP's named distances that suit sentence vectors: a misspelt one failed deep inside UMAP, naming no key
    metric: Literal[
        "cosine", "euclidean", "manhattan", "chebyshev", "minkowski", "correlation", "canberra", "braycurtis"
    ]


class HdbscanConfig(Section):
    min_cluster_size: int = Field(ge=2)
    min_samples: int = Field(ge=1)
    selection_method: Literal["eom", "leaf"]
    selection_epsilon: float = Field(ge=0)


class ClusterConfig(Section):
    method: Literal["graph", "hdbscan"]
    neighbors: int = Field(ge=2)
    word_weight: float = Field(ge=0, le=1)
    resolution: float = Field(gt=0)
    granularity: Literal["coarse", "medium", "fine"]
    target_reasons: tuple[int, int] | None
    taxonomy_floor: bool
    silhouette_tolerance: float = Field(ge=0, le=1)
    sample_size: int = Field(ge=100)
    min_cluster_size: int = Field(ge=1)
    merge_similarity: float = Field(gt=0, le=1)
    reassign_similarity: float = Field(ge=-1, le=1)
    hdbscan: HdbscanConfig

    @field_validator("target_reasons")
    @classmethod
    def _range(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and not 1 <= value[0] <= value[1]:
            raise ValueError("give [low, high] with 1 <= low <= high")
        return value


class DescribeConfig(Section):
    n_keywords: int = Field(gt=0)
    n_examples: int = Field(gt=0)
    label_docs: int = Field(gt=0)
    name_shortlist: int = Field(gt=0)
    name_contrast: float = Field(ge=0)
    max_groups: int = Field(ge=1)


class DriversConfig(Section):
    false_discovery_rate: float = Field(gt=0, lt=1)
    min_contacts: int = Field(ge=1)


class CostConfig(Section):
    per_contact: float | None = Field(ge=0)
    per_handle_minute: float | None = Field(ge=0)
    currency: str


class ProposalsConfig(Section):
    new_reason_max_fit: float = Field(ge=-1, le=1)
    fragment_min_links: float = Field(ge=0, le=1)
    new_reason_min_size: float = Field(ge=0)
    new_reason_unfit_share: float | None = Field(gt=0, le=1)
    unassign_min_confidence: float = Field(ge=0, le=1)
    min_cluster_contacts: int = Field(ge=1)
    split_min_share: float = Field(gt=0, le=1)
    split_min_purity: float = Field(ge=0, le=1)
    split_max_similarity: float = Field(gt=0, le=1)
    split_max_links: float = Field(ge=0, le=1)
    merge_min_overlap: float = Field(gt=0, le=1)
    merge_max_accuracy: float = Field(ge=0.5, le=1)
    retire_max_contacts: int = Field(ge=0)
    mislabel_min_share: float = Field(gt=0, le=1)
    mislabel_min_contacts: int = Field(ge=1)
    secondary_min_similarity: float = Field(gt=0, le=1)
    secondary_examples: list[str]
    evidence_growth: float = Field(ge=0)


class TaxonomyConfig(Section):
    path: str | None
    min_similarity: float = Field(ge=-1, le=1)
    self_training: float = Field(ge=0, lt=1)
    min_probability: float = Field(ge=0, le=1)
    holdout_share: float = Field(gt=0, lt=1)
    classifier_c: float = Field(gt=0)
    proposals: ProposalsConfig

    @field_validator("path")
    @classmethod
    def _absolute(cls, path: str | None) -> str | None:
        """Read from where the command runs, as given, then kept whole: a run stores its config, and a later
        `assign` from another folder read a relative path there, another taxonomy or none."""
        if path is None or not path.strip():
            return None  # blank: no taxonomy, as before
        if "://" in path:
            return path
        return str(Path(path).expanduser().resolve())  # as run.json names the file (`manifests.where`)


class TouchesConfig(Section):
    window_days: float = Field(gt=0)


class RankingConfig(Section):
    score: Literal["touches", "handle_time", "weighted"]
    weights: dict[Literal["touches", "repeat", "handle_time"], Annotated[float, Field(ge=0)]]  # negative: upside down
    index_reasons: int = Field(ge=0)


class TrendsConfig(Section):
    recent_days: int = Field(ge=1)
    windows: list[int]
    baseline_days: int = Field(ge=1)
    false_discovery_rate: float = Field(gt=0, lt=1)
    min_new: int = Field(ge=1)
    split_new_topics: bool
    emerging_days: int = Field(ge=1)
    emerging_min_recent: float = Field(gt=0, le=1)
    emerging_min_contacts: int = Field(ge=2)
    emerging_max_share: float = Field(gt=0, le=1)
    emerging_separate_below: float = Field(ge=0, le=1)

    @field_validator("windows")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        if any(w < 1 for w in value):
            raise ValueError("every window is a whole number of days, at least 1")
        return value


class RunnerConfig(Section):
    kind: Literal["threads", "dask"]
    address: str | None
    workers: int = Field(ge=1)


class Config(Section):
    seed: int = Field(ge=0, le=2**32 - 1)  # what NumPy's and scikit-network's generators take
    input: InputConfig
    prepare: PrepareConfig
    embedding: EmbeddingConfig
    reduce: ReduceConfig
    cluster: ClusterConfig
    describe: DescribeConfig
    taxonomy: TaxonomyConfig
    touches: TouchesConfig
    ranking: RankingConfig
    trends: TrendsConfig
    drivers: DriversConfig
    cost: CostConfig
    runner: RunnerConfig


def load_config(
    path: str | Path | None = None, overrides: dict[str, Any] | None = None, base: dict[str, Any] | None = None
) -> Config:
    """Defaults, then `base` (e.g. the config a run was made with: settings added to touchless since then take
    their defaults), then the user's file, then explicit overrides (CLI flags), validated once. An error names the
    layer that set the bad value (a command-line option, the user's file, the run's config or the defaults)."""
    layers = [(f"in {DEFAULT_CONFIG_PATH}", read_yaml(DEFAULT_CONFIG_PATH, "config file"))]
    if base is not None:
        layers.append(("in the run's stored config", base))
    if path is not None:
        layers.append((f"in {path}", read_yaml(Path(path), "config file")))
    if overrides:
        layers.append(("on the command line", overrides))
    merged: dict[str, Any] = {}
    for _, layer in layers:
        merged = _deep_merge(merged, layer)
    try:
        return Config.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_describe_errors(exc, layers)) from None


class _OnceLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping: YAML keeps the last one silently, so a person
    who wrote `input:` twice, or `examples:` twice in one reason, would lose the first without a word."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        lines: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # '<<': merged keys are meant to be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                repeated = key in lines
            except TypeError:  # a list or mapping as a key: YAML's own error names it below
                continue
            if repeated:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"the key '{key}' is given twice in one mapping (lines {lines[key]} and {line}); YAML would keep "
                    "only the second: write it once",
                    key_node.start_mark,
                )
            lines[key] = line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path, what: str, error: type[TouchlessError] = ConfigError) -> dict[str, Any]:
    """A YAML file a person writes (config, taxonomy, decisions, deployments) as a mapping ({} when empty); a missing
    file, broken YAML, a key given twice or a non-mapping raises `error` naming the file as `what` ("config file",
    ...)."""
    if path.is_dir():
        raise error(f"{what} {path} is a folder, not a file")
    if not path.is_file():
        raise error(f"{what} {path} does not exist")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise error(
            f"{what} {path} is not UTF-8 text: byte 0x{raw[exc.start]:02x} on line {line} (a file saved as Latin-1 or "
            "Windows-1252?); save it as UTF-8 and try again"
        ) from None
    try:
        data = yaml.load(text, Loader=_OnceLoader)
    except yaml.YAMLError as exc:
        raise error(f"{what} {path} is not valid YAML: {_yaml_problem(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise error(f"{what} {path} must hold a mapping, not {type(data).__name__}")
    return data


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """What the YAML parser found, on one line with the place named ("line 4, column 11"), without its picture of
    the line: a caret under a column means nothing once a web page or a log has re-flowed it."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return " ".join(str(exc).split())
    said = []
    for text, mark in ((exc.context, exc.context_mark), (exc.problem, exc.problem_mark)):
        if text:
            said.append(f"{text}{f' (line {mark.line + 1}, column {mark.column + 1})' if mark else ''}")
    tabs = "\\t" in (exc.problem or "")  # a tab where YAML wants spaces (to indent, or after a colon)
    return ("; ".join(said) or " ".join(str(exc).split())) + (": write spaces, not tabs" if tabs else "")


def yaml_text(data: dict[str, Any]) -> str:
    """A mapping as YAML people read and edit: keys in the given order."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)


def write_yaml(path: Path, data: dict[str, Any]) -> None:
    """Write a YAML file people read and edit, atomically: a crash leaves the old file."""
    write_together([(path, yaml_text(data))])


def write_together(files: list[tuple[Path, str | bytes]]) -> None:
    """Write files people read and edit, all or none: each goes to a temporary file beside it first (with the mode
    of the file it replaces), and only once all are written are they put in place, so a failed write (a full disk)
    leaves every one as it was; only a kill between the renames, a moment, could leave them apart. A link is
    followed: the file it points at is written and the link stays (a taxonomy linked from a repository)."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, content in files:
            target = path.resolve() if path.is_symlink() else path
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            staged.append((tmp, target))
            tmp.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
            if target.is_file():
                shutil.copymode(target, tmp)
        for tmp, target in staged:
            tmp.replace(target)
    finally:
        for tmp, _ in staged:
            if tmp.is_file():
                tmp.unlink()


def _deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _describe_errors(exc: ValidationError, layers: list[tuple[str, dict[str, Any]]]) -> str:
    lines = ["the config is not valid:"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        source = next((name for name, layer in reversed(layers) if _holds(layer, err["loc"])), layers[-1][0])
        if err["type"] == "extra_forbidden":
            parent = err["loc"][:-1]
            known = _known_keys(parent)
            guess = difflib.get_close_matches(str(err["loc"][-1]), known, n=1)
            tip = f" (did you mean '{guess[0]}'?)" if guess else f" (known keys here: {', '.join(known)})"
            lines.append(f"  - unknown key '{loc}' {source}{tip}")
        else:
            given = err.get("input")  # a whole section (a check across its keys) is not worth repeating
            got = "" if isinstance(given, dict) else f" (got {given!r})"
            lines.append(f"  - '{loc}' {source}: {err['msg'].removeprefix('Value error, ')}{got}")
    return "\n".join(lines)


def _holds(layer: Any, loc: tuple[Any, ...]) -> bool:
    """Whether a config layer sets the key at `loc` (or one of its parents to a non-mapping)."""
    for part in loc:
        if not isinstance(layer, dict) or part not in layer:
            return False
        layer = layer[part]
    return True


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] = Config
    for part in loc:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)
