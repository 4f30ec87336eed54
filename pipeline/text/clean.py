"""Keep the customer's words that explain the problem; drop markup, quoted history, signatures and chatter.

Rules are regular expressions from the config (`prepare.cleaning`), so a team can add its own ticket-system
boilerplate or greetings without code. Each contact records how much of each kind was removed (counts only).
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass

from pipeline.config import CleaningConfig
from pipeline.text.redact import PLACEHOLDER, URL

# a tag is "<" then a letter, "/" or "!" and no other "<" before its ">": `<svg/onload=...>` and `<a href=x>` alike
_TAG = re.compile(r"<(?:/?[a-zA-Z][^<>]*|!--.*?--|![a-zA-Z][^<>]*)>", re.DOTALL)
_ENTITY = re.compile(r"&(?:[a-zA-Z][a-zA-Z0-9]{1,31}|#\d{1,7}|#[xX][0-9a-fA-F]{1,6});")
_MARKUP_PASSES = 4  # entities decoded this many times at most (markup encoded once, twice ... as entities)
_BLOCK_TAGS = re.compile(r"<\s*(?:br|/p|/div|/li|/tr|/h\d)\s*/?>", re.IGNORECASE)
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_REPLY_MARK = re.compile(r"^(?:-{2,}\s*original message\s*-{2,}|_{5,})$", re.IGNORECASE)
_WROTE = re.compile(r"^on\b.{0,160}\bwrote:$", re.IGNORECASE)
_FORWARD_MARK = re.compile(r"^(?:-{2,}\s*forwarded message\s*-{2,}|begin forwarded message:)$", re.IGNORECASE)
_HEADER_LINE = re.compile(r"^(?:from|sent|date|to|cc|subject):\s", re.IGNORECASE)
_SIGNATURE_WINDOW = 8  # a signature starts within the last lines of a text


@dataclass
class Cleaned:
    text: str
    removed: Counter


class Cleaner:
    def __init__(self, cfg: CleaningConfig) -> None:
        def any_of(patterns: list[str]) -> re.Pattern | None:
            return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE) if patterns else None

        self._no_reason = (
            re.compile(r"^(?:\W*(?:" + "|".join(f"(?:{p})" for p in cfg.no_reason_turns) + r")\W*)+$", re.IGNORECASE)
            if cfg.no_reason_turns
            else None
        )
        self._greeting = (
            re.compile(
                r"^\W*(?:" + "|".join(f"(?:{p})" for p in cfg.leading_greetings) + r")[\s,!.:;-]+", re.IGNORECASE
            )
            if cfg.leading_greetings
            else None
        )
        self._boilerplate = any_of(cfg.boilerplate)
        self._footer = any_of(cfg.footer_starts)
        self._signature = any_of(cfg.signature_starts)

    def clean(self, text: str) -> Cleaned:
        """One message or email: markup, quoted history, forwarded headers, footers, signatures, URLs, boilerplate
        and a leading greeting go; what is left is the customer's own account of the problem."""
        removed: Counter = Counter()
        if _TAG.search(text) or _ENTITY.search(text):
            text = _plain_text(text, removed)
        lines = text.splitlines()
        # earlier mail below a reply header goes first, then a legal footer, so neither is read as a signature
        cut = next(
            (i for i, line in enumerate(lines) if _REPLY_MARK.match(line.strip()) or _starts_quoted_reply(lines, i)),
            None,
        )
        if cut is not None:
            removed["quoted_lines"] += len(lines) - cut
            lines = lines[:cut]
        cut = next((i for i, line in enumerate(lines) if self._footer and self._footer.search(line.strip())), None)
        if cut is not None:
            removed["footer_lines"] += len(lines) - cut
            lines = lines[:cut]
        kept: list[str] = []
        forwarding = False
        for i, line in enumerate(lines):
            stripped = line.strip()
            rest = len(lines) - i
            if stripped.startswith(">"):
                removed["quoted_lines"] += 1
                continue
            if _FORWARD_MARK.match(stripped):
                forwarding = True
                removed["quoted_lines"] += 1
                continue
            if _HEADER_LINE.match(stripped) and forwarding:
                removed["quoted_lines"] += 1
                continue
            if self._signature and kept and rest <= _SIGNATURE_WINDOW and self._signature.match(stripped):
                removed["signature_lines"] += rest
                break
            if self._boilerplate and self._boilerplate.search(stripped):
                removed["boilerplate_lines"] += 1
                continue
            kept.append(line)
        text = "\n".join(kept)
        text, n_urls = URL.subn(" ", text)
        removed["urls"] += n_urls
        if self._greeting:
            text = self._greeting.sub("", text.strip(), count=1)
        text = re.sub(r"[ \t]+", " ", text)
        text = re.sub(r"\s*\n\s*", "\n", text).strip()
        return Cleaned(text, removed)

    def carries_reason(self, text: str) -> bool:
        """False for turns that only greet, thank or acknowledge ("hi", "ok thanks", "yes please"), and for turns
        with no word at all (a bare number or placeholder answers a question; it does not state a problem)."""
        words = PLACEHOLDER.sub(" ", text).strip()
        if not re.search(r"[^\W\d_]{2,}", words):
            return False
        return not (self._no_reason and self._no_reason.match(words))


def _plain_text(text: str, removed: Counter) -> str:
    """Markup out, entities decoded; markup that was itself written as entities (`&lt;script&gt;`) is decoded and
    removed too, so what is stored is plain text with no tag in it."""
    for _ in range(_MARKUP_PASSES):
        text = _SCRIPT.sub(" ", text)
        text = _BLOCK_TAGS.sub("\n", text)
        removed["html_tags"] += len(_TAG.findall(text))
        text = _TAG.sub(" ", text)
        decoded = html.unescape(text)
        if decoded == text:
            return text
        text = decoded
    removed["html_tags"] += len(_TAG.findall(text))
    return _TAG.sub(" ", text)


def _starts_quoted_reply(lines: list[str], i: int) -> bool:
    """ "On <date>, <name> wrote:" (possibly wrapped over two lines), or an Outlook-style "From:" block with a
    "Sent:"/"Date:" line right after: everything from here on is earlier mail."""
    line = lines[i].strip()
    if line.lower().startswith("on "):
        joined = " ".join(part.strip() for part in lines[i : i + 2])
        return bool(_WROTE.match(line) or _WROTE.match(joined))
    if line.lower().startswith("from:"):
        return any(re.match(r"\s*(?:sent|date):", after, re.IGNORECASE) for after in lines[i + 1 : i + 4])
    return False
