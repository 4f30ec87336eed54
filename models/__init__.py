"""Model artifacts: the reference to each embedding model touchless can load offline.

Fitted per-run models (the UMAP reducer and cluster centres a later `assign` reuses) are written by each run under
`<out>/models/`; they are data, not code, and stay out of git.
"""

from pathlib import Path

EMBEDDING_REFERENCE = Path(__file__).resolve().parent / "embedding.yaml"
