"""Text preparation: cleaning, redaction, language, lemmas, duplicates."""

# what cleaning counts per contact (the `removed_<kind>` columns of the contacts table)
REMOVED_KINDS = (
    "html_tags",
    "quoted_lines",
    "signature_lines",
    "footer_lines",
    "urls",
    "boilerplate_lines",
    "no_reason_turns",
)
