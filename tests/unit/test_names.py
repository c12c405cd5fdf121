"""Vietnamese names: NFC storage form, and the folded key used for matching."""

from __future__ import annotations

import unicodedata

import pytest

from services.registry.domain import names


@pytest.mark.parametrize(
    "spelling",
    [
        "Nguyễn  Văn An",
        "NGUYEN VAN AN",
        "nguyen van an",
        "  Nguyễn Văn   An  ",
        "NGUYỄN VĂN AN",
        "Nguyễn\tVăn\nAn",
        unicodedata.normalize("NFD", "Nguyễn Văn An"),
    ],
)
def test_spellings_of_one_name_fold_to_one_key(spelling: str) -> None:
    assert names.fold(spelling) == "nguyen van an"


def test_fold_equates_the_diacritic_and_plain_spellings() -> None:
    assert names.fold("Nguyễn  Văn An") == names.fold("NGUYEN VAN AN")


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Đặng", "dang"),
        ("đặng", "dang"),
        ("ĐẶNG THỊ HỒNG", "dang thi hong"),
        ("Trần Thị Thu Hương", "tran thi thu huong"),
        ("Lê Đức Thọ", "le duc tho"),
        ("Phạm Ngọc Ánh", "pham ngoc anh"),
        ("Ưng Hoàng Phúc", "ung hoang phuc"),
    ],
)
def test_fold_strips_diacritics_and_d_bar(name: str, key: str) -> None:
    assert names.fold(name) == key


def test_fold_keeps_names_that_differ_apart() -> None:
    assert names.fold("Nguyễn Văn An") != names.fold("Nguyễn Văn Anh")
    assert names.fold("Đặng Văn An") != names.fold("Đoàn Văn An")


def test_normalise_gives_nfc_with_single_spaces() -> None:
    decomposed = unicodedata.normalize("NFD", "Nguyễn Văn An")
    stored = names.normalise(f"  {decomposed}   \t ")
    assert stored == "Nguyễn Văn An"
    assert unicodedata.is_normalized("NFC", stored)
    assert names.normalise("Trần\u00a0\u00a0Thị  Mai") == "Trần Thị Mai"


@pytest.mark.parametrize(
    "name", ["Nguyễn Văn An", "Đặng Thị Hồng", "H'Hen Niê", "Nguyễn-Trần An", "Hà Văn Jr."]
)
def test_acceptable_names(name: str) -> None:
    assert names.is_acceptable(name)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        ("Nguyễn Văn 2", "a digit"),
        ("Nguyễn\x00Văn", "a control character"),
        ("An@home", "a symbol"),
        ("A" * (names.MAX_NAME_LENGTH + 1), "too long"),
    ],
)
def test_unacceptable_names(name: str, why: str) -> None:
    assert not names.is_acceptable(name), why


def test_the_longest_acceptable_name() -> None:
    assert names.is_acceptable("A" * names.MAX_NAME_LENGTH)
