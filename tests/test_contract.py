"""The documented contract stays true: every output column is in docs/outputs.md, every config key in
configs/default.yaml is named in docs/config.md, every command and flag of `touchless` is in the README or docs,
and nothing in the repository points at a file outside it."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main
import yaml

from flows.cli import app
from pipeline.run.schemas import TABLES

ROOT = Path(__file__).resolve().parents[1]
DOCS = "\n".join(p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


def test_every_output_column_is_documented():
    outputs = (ROOT / "docs" / "outputs.md").read_text(encoding="utf-8")
    missing = [
        f"{table}.{field.name}"
        for table, schema in TABLES.items()
        for field in schema
        if f"`{field.name}`" not in outputs
    ]
    assert not missing, f"docs/outputs.md does not name: {missing}"
    assert all(f"## {table}" in outputs for table in TABLES)


def test_every_config_setting_is_documented():
    config = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    defaults = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text(encoding="utf-8"))
    missing = [section for section in defaults if f"`{section}`" not in config]
    for section, values in defaults.items():
        if isinstance(values, dict):
            missing += [f"{section}.{key}" for key in values if f"`{key}`" not in config and f"{key}" not in config]
    assert not missing, f"docs/config.md does not name: {missing}"


def test_every_command_and_flag_is_documented():
    command = typer.main.get_command(app)
    missing = []

    def walk(group, prefix):
        for name, sub in getattr(group, "commands", {}).items():
            if f"touchless {prefix}{name}" not in DOCS and f"{prefix}{name}" not in DOCS:
                missing.append(f"touchless {prefix}{name}")
            for param in sub.params:
                for flag in getattr(param, "opts", []):
                    if flag.startswith("--") and flag not in DOCS:
                        missing.append(f"{prefix}{name} {flag}")
            walk(sub, f"{prefix}{name} ")

    walk(command, "")
    assert not missing, f"undocumented: {missing}"


def test_nothing_points_outside_the_repository():
    files = [
        p
        for p in ROOT.rglob("*")
        if p.suffix in (".py", ".md", ".yaml", ".toml")
        and p.is_file()
        and not any(part.startswith(".") or part in ("build", "dist") for part in p.relative_to(ROOT).parts)
    ]
    bad = [
        str(p.relative_to(ROOT))
        for p in files
        if re.search(
            r"CONTRACTS\.md|ENVIRONMENT\.md|\.\./shared|/work/", p.read_text(encoding="utf-8", errors="ignore")
        )
        and p.name != "test_contract.py"
    ]
    assert not bad, f"these point at files outside the repository: {bad}"
