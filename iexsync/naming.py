"""How a document is named to people: its kind and number, and for an invoice whether it is
a draft or booked ("invoice draft 1", "booked invoice 20003", "credit note 5").

An accounting system numbers drafts and booked invoices in separate series, so draft 1 and
booked invoice 1 are two different documents: a bare "invoice 1" cannot say which. Kept
free of imports, so `log search` can name what it finds without the engine's modules.
"""

from __future__ import annotations

# The words before the number, by document kind and booked state; a kind not listed is
# named by itself, underscores as spaces.
_NAMES = {
    ("invoice", False): "invoice draft",
    ("invoice", True): "booked invoice",
    ("order", False): "order",
    ("order", True): "order",
    ("credit_note", False): "credit note",  # booked as it is made; a draft only mid-write
    ("credit_note", True): "credit note",
}


def kind_name(kind: str, booked: bool | None) -> str:
    """The words for a document of `kind` ("invoice", "credit_note"…); `booked` None when
    not known (a log row from before iexsync recorded it): then the kind alone."""
    kind = getattr(kind, "value", kind)
    if booked is None:
        return kind.replace("_", " ")
    return _NAMES.get((kind, bool(booked)), kind.replace("_", " "))


def document_name(kind: str, number: str, booked: bool | None) -> str:
    """"invoice draft 1", "booked invoice 20003", "credit note 5"; empty without a kind."""
    if not kind:
        return ""
    return " ".join(part for part in (kind_name(kind, booked), str(number or "")) if part)


def parse_document_name(text: str) -> tuple[str, bool | None, str] | None:
    """(kind, booked, number) for a name as `document_name` writes it ("booked invoice
    20003"); booked None when the name is the same either way ("credit note 5"); None if
    `text` is not such a name."""
    words = text.strip().lower().rsplit(None, 1)
    if len(words) != 2:
        return None
    label, number = words
    label = " ".join(label.split())
    states = [booked for (kind, booked), name in _NAMES.items() if name == label]
    if not states:
        return None
    kind = next(kind for (kind, _), name in _NAMES.items() if name == label)
    return kind, states[0] if len(states) == 1 else None, number
