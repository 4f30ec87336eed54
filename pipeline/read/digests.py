"""What `assign` compares to know whether a contact it holds changed: a digest of its words and a hash of its details.

A contact's digest is `<words>:<details>`. A run made before details were digested holds the words' digest alone;
`Run.sources_by_contact` gives such a run's contacts the details its contacts table holds, so that a change is seen
from the first `assign` on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipeline.read.contacts import CONVERSATION, OPTIONAL

# all that is read of a contact beside its words and its dimensions (not its row: that moves when an export is
# sorted); the order is the hash's, fixed (tests/test_prepare.py pins it)
DETAILS = (*OPTIONAL, *CONVERSATION)


def source_digests(frame: pd.DataFrame, turns: pd.DataFrame, dimensions: Sequence[str]) -> np.ndarray:
    """`<words>:<details>` for each contact: a digest of its words as read (its turns, in order) and a hash of its
    details (`with_details`), so that `assign` reads a contact again when either changed (an agent's reason or
    handle time is often filled in after the first export)."""
    parts: list[list[str]] = [[] for _ in range(len(frame))]
    for contact, text in zip(turns["contact"], turns["text"]):
        parts[contact].append(text)
    words = [
        hashlib.blake2b("\x1e".join(p).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest() for p in parts
    ]
    return with_details(words, frame, dimensions)


def with_details(words: Sequence[str], frame: pd.DataFrame, dimensions: Sequence[str]) -> np.ndarray:
    """`<words>:<details>`: each words' digest with a hash of the `DETAILS` and `dimensions` of its row of `frame`
    (a field it lacks counts as empty), from a frame as read or a run's contacts table alike."""
    # pandas' keyed hash of each field, in C, mixed field by field: strings joined and digested cost ~8 s a million
    hashed = np.zeros(len(frame), dtype=np.uint64)
    for column in [*DETAILS, *sorted(dimensions)]:  # each in its place: the order matters
        values = frame[column] if column in frame else pd.Series(None, index=frame.index, dtype=object)
        hashed = hashed * np.uint64(1_000_003) ^ pd.util.hash_pandas_object(_field_text(values), index=False).to_numpy()
    return np.array([f"{w}:{h:016x}" for w, h in zip(words, hashed)], dtype=object)


def _field_text(values: pd.Series) -> pd.Series:
    """A field as text for its digest, the same from an export as read and from the run's table: a missing value
    reads one way whatever its type, a whole number one way (3, 3.0), a time as its microseconds (str() of a
    million times costs ~8 s, this ~0.3 s)."""
    present = values.notna()
    if not present.any():  # most exports lack some fields: nothing to write
        return pd.Series("", index=values.index, dtype=object)
    if pd.api.types.is_datetime64_any_dtype(values):
        values = pd.Series(pd.to_datetime(values, utc=True).dt.as_unit("us").array.asi8, index=values.index)
    text = values.astype(str)
    if pd.api.types.is_float_dtype(values):  # a whole number as one: a column of counts with gaps is read as floats
        number = values.to_numpy(dtype=float, na_value=np.nan)
        whole = np.isfinite(number) & (np.abs(number) < 2**53) & (number == np.floor(number))
        text = text.where(
            ~whole, pd.Series(np.where(whole, number, 0).astype(np.int64), index=values.index).astype(str)
        )
    return text.where(present, "")


def same_words(held: pd.Series, read: pd.Series) -> np.ndarray:
    """Whether each pair of digests has the same words (whatever their details): such a contact keeps where the
    run put it."""
    words = [h.split(":", 1)[0] if isinstance(h, str) else None for h in held]
    return np.array([w is not None and w == r.split(":", 1)[0] for w, r in zip(words, read)], dtype=bool)
