"""The read step: an export in, clean and redacted customer words out. The raw text never leaves this module.

Contacts exports give one text per contact; messages exports are turned into one contact per conversation
(`pipeline.messages`). Either way each text is cleaned (`pipeline.clean`), personal data is replaced with typed
placeholders (`pipeline.text.redact`), its language is detected, and the content lemmas that name clusters are taken
with one spaCy pipeline (`nlp.pipe`: a blank English pipeline with the lookup lemmatizer, thousands of texts a
second; the trained pipeline's tagger would cost ~30x more for the same keywords).

That work is a function of each distinct text alone, so it is done in fixed parts of `TEXTS_PER_PART` texts, and
on large exports in worker processes, one a core (`prepare.processes`, Linux): the parts are the same whatever the
number of processes, so the output is too.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import re
import signal
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from functools import lru_cache
from itertools import chain, repeat
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import spacy
from spacy.attrs import NORM, ORTH
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language

from pipeline.config import Config, InputConfig, LanguageConfig, PrepareConfig
from pipeline.errors import TouchlessError
from pipeline.read.contacts import CONVERSATION, OPTIONAL, contacts_from_table, truncate_long
from pipeline.read.digests import same_words, source_digests
from pipeline.read.files import read_table
from pipeline.read.messages import conversations, is_messages
from pipeline.read.report import InputReport, list_rows
from pipeline.runtime import cores, die_with
from pipeline.text import REMOVED_KINDS
from pipeline.text.clean import Cleaner
from pipeline.text.lemmas import kept_spellings
from pipeline.text.redact import PLACEHOLDER, IdPattern, Redactor, ner, redact_name_answer

# control characters, zero-width marks, and lone surrogates (half of a character pair: not valid Unicode)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff\ud800-\udfff]")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_LINES = re.compile(r"\n\s*\n+")
# below it a text counts as the expected language. 0.9 read clear Spanish and Italian (0.87-0.89) as English; at 0.8
# none of 26,067 English texts of 25 characters or more (BANKING77, HWU64, DSTC11, MultiDoGO) is set aside, at 0.7
# eight are (a scratch count, stop 53's note)
_MIN_LANGUAGE_CONFIDENCE = 0.8
# ISO 639-1 codes of languages written in another script than the Latin one (those py3langid names)
_NOT_LATIN_SCRIPT = set(
    "am ar as be bg bn bo dz el fa gu he hi hy ja ka kk km kn ko ky lo mk ml mn mr my ne or pa ps ru si sr ta te th ug "
    "uk ur yi zh".split()
)
TEXTS_PER_PART = 8_192
_CAN_FORK = sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
# worker processes only where each gets this many parts at least: a small export is read in seconds in the run's
# own process, and workers cost their fork, the parts' copies to them and back, and memory. On a 2-core AMD EPYC, the
# scale benchmark's distinct texts read in one process and in two workers (fresh processes, summed PSS at its peak):
# 50,000 in 11.3 / 10.7 s and 6.8 / 8.2 s (551 and 1,484 MB: RSS, shared pages counted twice); 100,000 in
# 20.7 s, 628 MB and 14.3 s, 880 MB; 1,000,000 in 220.6 s, 1,699 MB and 149.2 s, 2,224 MB (under the run's later
# peak in clustering, ~2.6 GB); 20,000 (3 parts) stay in one process: 5.1-6.0 s
PARTS_PER_WORKER = 3
MESSAGE_DETAILS = ("customer_id", "channel")  # the optional fields of a messages export (`MessageColumnMap`)


def read_and_prepare(
    path: str | Path,
    cfg: Config,
    known: pd.Series | None = None,
    date_orders: dict[str, str] | None = None,
    held: pd.DataFrame | None = None,
    scored: str | None = None,
    held_details: Callable[[np.ndarray, list[str]], pd.DataFrame] | None = None,
) -> tuple[pd.DataFrame, InputReport]:
    """Every contact once: `text` cleaned and redacted, `terms` (content lemmas), `language`, `text_status`
    (ok | empty | no_reason | other_language), `removed_*` counts, and the canonical input columns.

    The work runs on turns: a contacts export has one turn per contact, a messages export one per customer message.
    Each turn is cleaned and redacted; turns that carry no reason (or echo an agent) are dropped; the rest are
    joined into the contact's text. Contacts in `known` (source digest by contact id: an earlier run holds them)
    are left out before any of that work when their words and details are unchanged, so a daily run over a whole
    export costs in proportion to what is new; those whose text or details changed are read again (counted in
    `report.changed`).
    `date_orders`: the day/month order of each date field in the run's first input (its report's `date_orders`),
    so that a later export whose dates do not tell (1-12 September) is read the same way.
    `held`: the conversations the run holds (`text`, `created_at`, `last_at`, `turns`, `customer_turns` by id): a
    messages export that continues one adds its new messages to it (`pipeline.read.messages.conversations`).
    `held_details(ids, fields)`: the fields the run holds of its contacts (`Run.details`); a contacts export
    without some optional field carries nothing of it for the contacts in `known`, which keep the run's values.
    `scored`: the column of known reasons `evaluate` scores against: not read, nor offered as a field to map (as
    the agents' reason it would hand the answers to the run), unless the config maps it itself.
    """
    raw = read_table(path, cfg.input.encoding)
    aside = scored is not None and scored in raw.columns and scored not in _mapped(cfg.input)
    if aside:
        raw = raw.drop(columns=scored)
    messages = is_messages(raw, cfg.input)
    if messages:
        frame, turns, report = conversations(raw, cfg.input, path, date_orders, held)
    else:
        frame, report = contacts_from_table(raw, cfg.input, path, date_orders)
        turns = pd.DataFrame(
            {"contact": np.arange(len(frame)), "text": frame["text"].to_numpy(), "echo": False, "answers_name": False}
        )
        for column in CONVERSATION:
            frame[column] = None
        frame["continues"] = False
    if known is not None and len(known) and held_details is not None:
        # a messages export carries a conversation's customer and channel only; its times come from its messages
        _keep_held_details(frame, known, held_details, report, MESSAGE_DETAILS if messages else OPTIONAL)
    del raw
    if aside:
        report.columns += f". '{scored}': the known reasons, kept for scoring only"
    frame["source_hash"] = source_digests(frame, turns, cfg.input.dimensions)
    if known is not None and len(known):
        frame, turns = _without_known(frame, turns, known, report)
    had_words = np.bincount(turns["contact"], weights=turns["text"].str.strip().ne(""), minlength=len(frame)) > 0
    with text_parts(cfg.prepare) as in_parts:
        words = _customer_words(turns, len(frame), cfg, frame, report, in_parts)
        frame["text"] = pd.Series(words, index=frame.index, dtype="str")
        del words
        if frame["continues"].any():
            had_words |= _continue_held(frame, held)
        frame = frame.drop(columns="continues")
        truncate_long(frame, cfg.input.max_text_chars, report)
        _set_status(frame, had_words, report)
        languages, terms = once_per_distinct(
            frame["text"].tolist(), lambda distinct: in_parts(_language_and_terms, distinct, cfg.prepare)
        )
    frame["language"] = languages
    _mark_other_language(frame, cfg.prepare.language, report)
    frame["terms"] = terms
    return frame, report


@contextmanager
def text_parts(cfg: PrepareConfig) -> Iterator[Callable]:
    """Yields `in_parts(work, texts, *args)`: `work(part, *args)` over `texts` in parts of `TEXTS_PER_PART`, its
    results (tuples of lists and of dicts of arrays, one entry a text) joined in order. Where there are enough
    parts, they run in worker processes (`cfg.processes`; 0: one a core), started on first need and stopped on
    leaving; each ends with the run's process however that ends (`die_with`), and leaves Ctrl-C to it.

    The workers are forked, on Linux only: they start at once with the models the run's process loaded and share
    its memory (Python's collector is kept off the shared objects, `gc.freeze`, or a collection in a worker would
    copy every page it touches); spawned workers would start a fresh interpreter each (seconds) and run the
    caller's script again where it lacks `if __name__ == "__main__"`. A forked worker runs only this module's pure
    steps (regular expressions, spaCy, the language model, NumPy), none of the locks of the caller's threads.
    Elsewhere, and in a daemonic process (which may not start any), the parts run in the run's own process."""
    pool: ProcessPoolExecutor | None = None

    def in_parts(work: Callable, texts: list[str], *args):
        nonlocal pool
        parts = [texts[at : at + TEXTS_PER_PART] for at in range(0, len(texts), TEXTS_PER_PART)] or [[]]
        workers = min(cfg.processes or cores(), len(parts) // PARTS_PER_WORKER)
        starting = pool is None and workers > 1 and _CAN_FORK and not multiprocessing.current_process().daemon
        if starting:
            lemma_nlp()  # loaded here once, and shared by the workers
            _language_identifier()
            if cfg.redact.names:
                ner()
            gc.freeze()
            pool = ProcessPoolExecutor(
                workers, multiprocessing.get_context("fork"), initializer=_worker_start, initargs=(os.getpid(),)
            )
        if pool is None:
            return _joined([work(part, *args) for part in parts])
        try:
            done = pool.map(work, parts, *(repeat(a) for a in args))  # the first call forks the workers
        except OSError as exc:  # no memory or process left to fork
            raise TouchlessError(_NO_WORKERS.format(why=f"could not start ({exc.strerror or exc})")) from None
        finally:
            if starting:
                gc.unfreeze()
        try:
            return _joined(list(done))
        except BrokenProcessPool:
            why = "stopped before its end (killed, perhaps for lack of memory)"
            raise TouchlessError(_NO_WORKERS.format(why=why)) from None

    try:
        yield in_parts
    except BaseException:  # Ctrl-C or an error: the workers end with this process, or after the part in hand
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        raise
    if pool is not None:
        pool.shutdown()


_NO_WORKERS = (
    "a process preparing the texts {why}: set prepare.processes to 1 to prepare them in the run's own process, "
    "or give the machine more memory"
)


def _worker_start(parent: int) -> None:
    """A worker leaves Ctrl-C to the run's process (which stops the pool) and ends when that process ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with(parent)


def _joined(parts: list[tuple]) -> tuple:
    """The parts' results, column by column, in order."""

    def join(column: list):
        if isinstance(column[0], dict):
            return {key: np.concatenate([c[key] for c in column]) for key in column[0]}
        return list(chain.from_iterable(column))

    return tuple(join(list(column)) for column in zip(*parts))


def _language_and_terms(distinct: list[str], cfg: PrepareConfig) -> tuple[list[str], list[str]]:
    return _languages(distinct, cfg.language), _terms(distinct, cfg.batch_size)


def _mapped(cfg: InputConfig) -> set[str]:
    """The input columns the config reads: its fields' columns, messages' columns and dimensions."""
    return {*cfg.columns.model_dump().values(), *cfg.messages.columns.model_dump().values(), *cfg.dimensions}


_CONTINUED = ("text", "created_at", "last_at", "turns", "customer_turns")  # the rest of `held` fills gaps


def _continue_held(frame: pd.DataFrame, held: pd.DataFrame) -> np.ndarray:
    """Conversations that continue held ones (`continues`) become the whole: the held text (cleaned and redacted
    when it was read) and the new one's, the held first time, both turn counts. Returns which now have words."""
    at = frame["continues"].to_numpy(dtype=bool)
    before = held.loc[frame.loc[at, "contact_id"]]
    earlier, later = before["text"].fillna("").to_numpy(dtype=object), frame.loc[at, "text"].to_numpy(dtype=object)
    frame.loc[at, "text"] = ["\n".join(t for t in pair if t) for pair in zip(earlier, later)]
    frame.loc[at, "created_at"] = before["created_at"].to_numpy()
    for column in ("turns", "customer_turns"):
        frame.loc[at, column] = frame.loc[at, column].to_numpy() + before[column].fillna(0).to_numpy(dtype=int)
    for column in [c for c in before.columns if c not in _CONTINUED]:  # customer, channel, dimensions: kept
        given = frame.loc[at, column].to_numpy(dtype=object)
        frame.loc[at, column] = np.where(pd.isna(given), before[column].to_numpy(dtype=object), given)
    words = np.zeros(len(frame), dtype=bool)
    words[at] = [bool(t.strip()) for t in frame.loc[at, "text"]]
    return words


def _keep_held_details(
    frame: pd.DataFrame,
    known: pd.Series,
    held_details: Callable[[np.ndarray, list[str]], pd.DataFrame],
    report: InputReport,
    fields: Sequence[str],
) -> None:
    """One of the optional `fields` the export does not have (a daily file of ids, texts and times) says nothing of
    the contacts the run holds already: they keep the run's values of it, and are not read again for lacking it
    (their customer, ticket, channel and handle time were emptied, and their issues and costs with them)."""
    absent = [f for f in fields if f not in report.optional_columns or _blank(frame[f])]
    in_run = known.index.get_indexer(frame["contact_id"].astype(object)) >= 0
    if not absent or not in_run.any():
        return
    held = held_details(frame.loc[in_run, "contact_id"].to_numpy(), absent)
    for field in [f for f in absent if f in held]:
        frame[field] = frame["contact_id"].map(held[field])  # the run's type: its digest reads the same
    kept = [f for f in absent if f in held and held[f].notna().any()]  # said only of fields the run has values of
    if kept:
        report.columns += (
            f". The {int(in_run.sum())} contact(s) the run has already keep its {', '.join(kept)} (not in this file: "
            "off for new contacts only)"
        )


def _blank(values: pd.Series) -> bool:
    """Whether a field holds nothing but empty text or spaces (a column exported empty, read as present)."""
    return bool(values.isna().all() or values.astype(str).str.strip().eq("").where(values.notna(), True).all())


def _without_known(
    frame: pd.DataFrame, turns: pd.DataFrame, known: pd.Series, report: InputReport
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Leave out the contacts an earlier run holds with the same words and details (`known`: their digests,
    `pipeline.read.digests`); a null digest (a run made before digests were kept) counts as unchanged."""
    # one hash lookup of each new id (pandas' isin on strings converts every id the run holds, ~10 s at 1M)
    at = known.index.get_indexer(frame["contact_id"].astype(object))
    in_run = at >= 0
    held = pd.Series(known.to_numpy(dtype=object)[at], dtype=object).where(in_run)
    digests = pd.Series(frame["source_hash"].to_numpy(), dtype=object)
    same = in_run & (held.isna() | (held == digests)).to_numpy() & ~frame["continues"].to_numpy(dtype=bool)
    keep = ~same
    report.already_known += int(same.sum())
    changed = in_run & ~same
    report.changed = int(changed.sum())
    report.details_changed = int(same_words(held[changed], digests[changed]).sum())  # the changed only: few
    position = np.cumsum(keep) - 1  # each kept contact's new position
    turns = turns[keep[turns["contact"].to_numpy()]].assign(contact=lambda t: position[t["contact"].to_numpy()])
    return frame[keep].reset_index(drop=True), turns.reset_index(drop=True)


def _customer_words(
    turns: pd.DataFrame, n: int, cfg: Config, frame: pd.DataFrame, report: InputReport, in_parts: Callable
) -> list[str]:
    """Clean, redact, filter and join the turns of each contact; count what cleaning removed into `frame`.

    Each distinct turn text is cleaned and redacted once (exports repeat "where is my order?" and pasted
    templates); a text's result does not depend on the others, so this changes no output, only the time."""
    codes, distinct = pd.factorize(turns["text"], use_na_sentinel=False)
    cleaner = Cleaner(cfg.prepare.cleaning) if cfg.prepare.clean else None
    texts, removed_once, counts, carries_once = in_parts(_clean_and_redact, list(distinct), cfg.prepare)

    contact = turns["contact"].to_numpy()
    removed = {
        kind: np.bincount(contact, weights=once[codes], minlength=n).astype(np.int64)
        for kind, once in removed_once.items()
    }
    redacted: Counter = Counter()
    for count, uses in zip(counts, np.bincount(codes, minlength=len(texts))):
        for label, found in count.items():
            redacted[label] += found * int(uses)
    parts: list[list[str]] = [[] for _ in range(n)]
    answers_name = turns["answers_name"].to_numpy(dtype=bool) & cfg.prepare.redact.names
    for who, code, echo, answers in zip(contact, codes, turns["echo"].to_numpy(dtype=bool), answers_name):
        text, carries_reason = texts[code], carries_once[code]
        if answers:  # a bare name answering "your name?" (chats): too often no name without that context
            text, named = redact_name_answer(text)
            redacted["NAME"] += named
            carries_reason = _carries(text, cleaner)
        if not text:
            continue
        if cleaner is not None and (echo or not carries_reason):
            removed["no_reason_turns"][who] += 1
            continue
        parts[who].append(text)
    report.redacted = {label: found for label, found in redacted.items() if found > 0}
    for kind, per_contact in removed.items():
        frame[f"removed_{kind}"] = per_contact
    return ["\n".join(p) for p in parts]


def _clean_and_redact(
    texts: list[str], cfg: PrepareConfig
) -> tuple[list[str], dict[str, np.ndarray], list[Counter], list[bool]]:
    """Each text normalised, cleaned (what went, counted by kind) and redacted (what was found, by label), and
    whether it still carries a reason."""
    cleaner = Cleaner(cfg.cleaning) if cfg.clean else None
    texts = [normalise(t) for t in texts]
    removed = {kind: np.zeros(len(texts), dtype=np.int64) for kind in REMOVED_KINDS}
    if cleaner is not None:
        for i, text in enumerate(texts):
            cleaned = cleaner.clean(text)
            for kind, count in cleaned.removed.items():
                removed[kind][i] = count
            texts[i] = normalise(cleaned.text)
    patterns = [IdPattern(name, pattern) for name, pattern in cfg.redact.id_patterns.items()]
    texts, counts = Redactor(patterns, names=cfg.redact.names).redact_many(texts, batch_size=cfg.batch_size)
    return texts, removed, counts, [_carries(t, cleaner) for t in texts]


def _carries(text: str, cleaner: Cleaner | None) -> bool:
    return bool(text) and (cleaner is None or cleaner.carries_reason(text))


def _set_status(frame: pd.DataFrame, had_words: np.ndarray, report: InputReport) -> None:
    """Contacts with no text, or with words but none that state a problem ("thanks!", a chat of greetings), are
    kept, unclustered, and counted."""
    nothing_left = frame["text"].str.strip().to_numpy() == ""
    frame["text_status"] = np.select([nothing_left & had_words, nothing_left], ["no_reason", "empty"], "ok")
    for status, attribute, why in (
        ("empty", "empty_text", "have no text"),
        (
            "no_reason",
            "no_reason",
            "say nothing of a problem once cleaned (greetings, thanks, links, signatures, or only numbers and signs: "
            "prepare.cleaning)",
        ),
    ):
        rows = frame.loc[frame["text_status"] == status, "row"].tolist()
        setattr(report, attribute, len(rows))
        if rows:
            report.warnings.append(f"{len(rows)} contact(s) {why} and are kept unclustered (rows {list_rows(rows)})")


def _mark_other_language(frame: pd.DataFrame, cfg: LanguageConfig, report: InputReport) -> None:
    other = (frame["text_status"] == "ok") & ~frame["language"].isin(cfg.expected)
    report.other_language = int(other.sum())
    if not report.other_language:
        return
    found = ", ".join(f"{lang} {n}" for lang, n in frame.loc[other, "language"].value_counts().items())
    if cfg.other == "set_aside":
        frame.loc[other, "text_status"] = "other_language"
        report.warnings.append(
            f"{report.other_language} contact(s) are not in {'/'.join(cfg.expected)} ({found}) and are kept "
            f"unclustered (rows {list_rows(frame.loc[other, 'row'].tolist())}); prepare.language.other: keep clusters them"
        )
    else:
        report.warnings.append(
            f"{report.other_language} contact(s) are not in {'/'.join(cfg.expected)} ({found}); clustered anyway"
        )


def detect_languages(texts: list[str], cfg: LanguageConfig) -> list[str]:
    """ISO 639-1 code per text. Short or unsure texts count as the first expected language: a two-word English
    message is often scored as something else, and setting it aside would lose a real contact. An unsure text with
    no word in Latin letters (Arabic, where only Latin-script languages are expected) is not theirs, whatever the
    identifier's doubt."""
    return once_per_distinct(texts, lambda distinct: _languages(distinct, cfg))


def _languages(distinct: list[str], cfg: LanguageConfig) -> list[str]:
    identifier = _language_identifier()
    latin_only = not set(cfg.expected) & _NOT_LATIN_SCRIPT

    def language(text: str) -> str:
        words = PLACEHOLDER.sub(" ", text)
        if len(words.strip()) < cfg.min_chars:
            return cfg.expected[0]
        found, confidence = identifier.classify(words)
        # Arabic or Cyrillic is never read as the expected English for want of confidence (langid gave Russian 0.57)
        sure = confidence >= _MIN_LANGUAGE_CONFIDENCE or (latin_only and _no_latin_word(words))
        return found if sure else cfg.expected[0]

    return [language(t) for t in distinct]


def _no_latin_word(text: str) -> bool:
    """Whether the text holds no word in Latin letters: a customer who writes 'charged by ООО Яндекс Маркет' or
    'declined at 北京市...' writes English, naming a shop in its own letters."""
    return _LATIN_WORD.search(text) is None


_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]{2,}")


@lru_cache(maxsize=1)
def _language_identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@lru_cache(maxsize=1)
def lemma_nlp() -> Language:
    """A blank English pipeline with the lookup lemmatizer, whose table leaves the spellings of
    `pipeline.text.lemmas` as written ("number", not "numb")."""
    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    table = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_lookup")
    for word in kept_spellings():
        table.set(word, word)
    return nlp


def normalise(text: str) -> str:
    """Unicode-normalised, control characters out, runs of spaces and blank lines collapsed."""
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    text = _SPACES.sub(" ", text)
    text = _LINES.sub("\n", text)
    return text.strip()


def content_terms(texts: list[str], batch_size: int) -> list[str]:
    """Space-joined content lemmas per text, for c-TF-IDF keywords (placeholders are not words): lower-cased
    lemmas of the words that carry meaning, no stop words, punctuation, numbers or placeholders.

    The lookup lemmatizer's lemma and each of those tests depend on a word's spelling alone, so they are decided
    once per spelling (the tokenizer's ids) instead of once per token: the same words, ~4x faster. A piece the
    tokenizer cuts from a contraction ("wo" and "n't" of "won't", "ca" of "can't") is decided by the word it stands
    for (its norm: "will", "not", "can"), so no such fragment becomes a keyword ("atm wo")."""
    return once_per_distinct(texts, lambda distinct: _terms(distinct, batch_size))


def _terms(distinct: list[str], batch_size: int) -> list[str]:
    nlp = lemma_nlp()
    table = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_lookup", {})
    decided: dict[tuple[int, int], str | None] = {}

    def content_lemma(orth: int, norm: int) -> str | None:
        word = nlp.vocab[orth]
        if word.is_stop or word.is_punct or word.is_space or word.like_num or not word.is_alpha:
            return None
        if nlp.vocab.strings[norm] in STOP_WORDS:  # a contraction's piece: "wo" (will) of "won't"
            return None
        lemma = table.get(word.orth_, word.orth_).lower()
        return lemma if len(lemma) > 1 and lemma not in STOP_WORDS else None

    out = []
    for doc in nlp.tokenizer.pipe((PLACEHOLDER.sub(" ", t) for t in distinct), batch_size=batch_size):
        lemmas = []
        for orth, norm in doc.to_array([ORTH, NORM]).tolist():
            if (orth, norm) not in decided:
                decided[orth, norm] = content_lemma(orth, norm)
            if decided[orth, norm] is not None:
                lemmas.append(decided[orth, norm])
        out.append(" ".join(lemmas))
    return out


def once_per_distinct(texts: list[str], read: Callable[[list[str]], Any]) -> Any:
    """`read` over each distinct text once, its results given back in the order of `texts` (exports repeat texts):
    one list, or a tuple of lists where `read` gives a tuple."""
    codes, distinct = pd.factorize(pd.Series(texts, dtype=object), use_na_sentinel=False)
    done = read(list(distinct))
    if isinstance(done, tuple):
        return tuple([column[code] for code in codes] for column in done)
    return [done[code] for code in codes]
