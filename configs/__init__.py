"""YAML configs shipped with touchless: `default.yaml` holds every parameter and its default."""

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent
DEFAULT_CONFIG_PATH = CONFIG_DIR / "default.yaml"
