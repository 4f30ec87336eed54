"""Redaction precision on real customer texts, and recall on the planted corpus.

BANKING77 and HWU64 hold almost no personal data, so nearly every change redaction makes to them is a false alarm;
DSTC11 and MultiDoGO chats hold made-up names, phone numbers and addresses their writers were asked to give, so most
changes there are right. Per set: how many texts change, counts by placeholder type, how many placeholders cut a word
(should be none), and the most frequent changed snippets (original span -> placeholder) for a person to judge.
Recall is measured on tests/redaction_corpus.py, whose personal data is planted.

    python -m benchmarks.redaction                        # pipeline/text/redact.py
    python -m benchmarks.redaction --module /tmp/old.py   # another version of the module, to compare
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import time
from collections import Counter
from types import ModuleType

import pandas as pd

from benchmarks.datasets import banking77, data_dir, dstc11, hwu64
from tests.redaction_corpus import cases

TOP = 15


def load_module(path: str | None) -> ModuleType:
    if path is None:
        import pipeline.text.redact

        return pipeline.text.redact
    spec = importlib.util.spec_from_file_location("redact_under_test", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def real_sets() -> dict[str, list[str]]:
    """Every text of each set: BANKING77 train+test, HWU64, DSTC11 development, MultiDoGO customer turns (all
    splits)."""
    sets = {
        "banking77": banking77("all")["text"].tolist(),
        "hwu64": hwu64()["text"].tolist(),
        "dstc11": dstc11()["text"].tolist(),
    }
    for domain in ("airline", "finance", "media"):
        turns = [
            pd.read_csv(data_dir() / "multidogo" / domain / f"{split}.tsv", sep="\t", dtype=str, keep_default_na=False)
            for split in ("train", "dev", "test")
        ]
        sets[f"multidogo-{domain}"] = pd.concat(turns)["utterance"].tolist()
    return {name: [str(t) for t in texts] for name, texts in sets.items()}


def changed_spans(original: str, redacted: str, placeholder: re.Pattern) -> list[tuple[str, str]]:
    """(original span, placeholder) pairs: the redacted text read as a template whose placeholders stand for spans."""
    parts = placeholder.split(redacted)
    found = placeholder.findall(redacted)
    template = "(.+?)".join(re.escape(p) for p in parts)
    m = re.fullmatch(template, original, re.DOTALL)
    if m is None:  # a placeholder already in the input, say: show the texts whole
        return [(original, " ".join(found))]
    return list(zip(m.groups(), found))


def precision_table(name: str, texts: list[str], module: ModuleType) -> dict:
    start = time.perf_counter()
    out, counts = module.Redactor(names=True).redact_many(texts)
    seconds = time.perf_counter() - start
    changed = [(t, o) for t, o in zip(texts, out) if t != o]
    per_type = sum(counts, Counter())
    snippets: Counter = Counter()
    example: dict[tuple[str, str], str] = {}
    for text, red in changed:
        for span, ph in changed_spans(text, red, module.PLACEHOLDER):
            key = (span.strip().lower(), ph)
            snippets[key] += 1
            example.setdefault(key, text)
    print(
        f"\n== {name}: {len(texts):,} texts, {len(changed):,} changed ({len(changed) / len(texts):.2%}), "
        f"{len(texts) / seconds:,.0f} texts/s"
    )
    print("   placeholders: " + (", ".join(f"{k} {v}" for k, v in per_type.most_common()) or "none"))
    for (span, ph), n in snippets.most_common(TOP):
        context = " ".join(example[(span, ph)].split())
        print(f"   {n:5d}  {span!r:28} -> {ph:9} e.g. {context[:90]!r}")
    cut = sum(1 for red in out for m in module.PLACEHOLDER.finditer(red) if _cuts_a_word(red, m))
    return {
        "set": name,
        "texts": len(texts),
        "changed": f"{len(changed) / len(texts):.2%}",
        "cut words": cut,
        **{k: per_type[k] for k in sorted(per_type)},
    }


def _cuts_a_word(text: str, m: re.Match) -> bool:
    """A placeholder with a letter right before or after it: "br[NAME]" (the old sign-off rule)."""
    return (m.start() > 0 and text[m.start() - 1].isalpha()) or (m.end() < len(text) and text[m.end()].isalpha())


def recall_table(module: ModuleType) -> None:
    """Per type: share of planted values gone with their placeholder in place; and negatives left untouched."""
    corpus = cases()
    out = module.Redactor(names=True).redact_many([text for text, _, _ in corpus])[0]
    found, total = Counter(), Counter()
    negatives = [(text, red) for (text, secrets, _), red in zip(corpus, out) if not secrets]
    for (_, secrets, _), red in zip(corpus, out):
        for kind, values in secrets.items():
            for value in values:
                total[kind] += 1
                found[kind] += value not in red and f"[{kind}]" in red
    print("\n== planted corpus (tests/redaction_corpus.py): recall per type")
    for kind in sorted(total):
        print(f"   {kind:8} {found[kind] / total[kind]:6.1%}  ({found[kind]}/{total[kind]})")
    untouched = sum(text == red for text, red in negatives)
    print(f"   negatives left unchanged: {untouched}/{len(negatives)}")
    for text, red in [(t, r) for t, r in negatives if t != r][:10]:
        print(f"     {text!r} -> {red!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", help="path of a redact.py to measure instead of pipeline/text/redact.py")
    args = parser.parse_args()
    module = load_module(args.module)
    print("reproduce: python -m benchmarks.redaction" + (f" --module {args.module}" if args.module else ""), flush=True)
    module.Redactor(names=True).redact("load spaCy outside the timings, Anna")
    rows = [precision_table(name, texts, module) for name, texts in real_sets().items()]
    table = pd.DataFrame(rows)
    kinds = table.columns[4:]
    table[kinds] = table[kinds].fillna(0).astype(int)
    print("\n" + table.to_string(index=False))
    recall_table(module)


if __name__ == "__main__":
    main()
