"""Vietnamese names: stored in NFC, matched without diacritics, case or spacing."""

from __future__ import annotations

import unicodedata

MAX_NAME_LENGTH = 200


def normalise(name: str) -> str:
    """The stored form: NFC, single spaces, no leading or trailing space."""
    return " ".join(unicodedata.normalize("NFC", name).split())


def fold(name: str) -> str:
    """The matching key: "Nguyễn  Văn An" and "NGUYEN VAN AN" both give "nguyen van an"."""
    # Đ/đ do not decompose to D + a mark; Ð (U+00D0, Icelandic eth) is a common look-alike
    # typed for Đ on some keyboards and in legacy encodings.
    for stroked in "đĐÐð":
        name = name.replace(stroked, "d")
    decomposed = unicodedata.normalize("NFD", name)
    stripped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return " ".join(stripped.casefold().split())


def is_acceptable(name: str) -> bool:
    """Letters, spaces and a few punctuation marks; no digits or control characters."""
    if not name or len(name) > MAX_NAME_LENGTH:
        return False
    return all(c.isalpha() or c in " -'." for c in name)
