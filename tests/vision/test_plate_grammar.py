"""The Chinese plate grammar: which strings are plates, and how reads are repaired."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.vision.plates.grammar import (
    ALNUM,
    COLOUR_FORMATS,
    DIGITS,
    LETTERS,
    NEV_LETTERS,
    PROVINCES,
    PlateFormat,
    best_valid,
    certain_repair,
    fits_colour,
    is_valid,
    normalise,
    plate_format,
)


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("京A12345", PlateFormat.ORDINARY),
        ("皖AH712X", PlateFormat.ORDINARY),
        ("藏DT5022", PlateFormat.ORDINARY),
        ("沪AD12345", PlateFormat.NEW_ENERGY_SMALL),
        ("沪AF71017", PlateFormat.NEW_ENERGY_SMALL),
        ("苏ED51712", PlateFormat.NEW_ENERGY_SMALL),
        ("粤B12345D", PlateFormat.NEW_ENERGY_LARGE),
        ("鄂F8888警", PlateFormat.POLICE),
        ("琼A6716学", PlateFormat.COACH),
        ("粤A1234挂", PlateFormat.TRAILER),
        ("粤ZR066港", PlateFormat.HK_MACAO),
        ("粤Z1234澳", PlateFormat.HK_MACAO),
        ("沪A1234领", PlateFormat.CONSULATE),
        ("使198476", PlateFormat.EMBASSY),
        ("198476使", PlateFormat.EMBASSY),
        ("VA30093", PlateFormat.MILITARY),
        ("皖1149885", PlateFormat.FARM),
    ],
)
def test_known_plates_are_recognised_with_their_format(text: str, fmt: PlateFormat) -> None:
    assert plate_format(text) is fmt
    assert is_valid(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "京A1234",  # one short
        "京A123456",  # 8 characters but no energy letter
        "京I12345",  # I is never issued
        "京AO2345",  # nor O
        "A京12345",  # province must come first
        "X A12345",
        "京112345",  # issuing authority must be a letter
        "沪AD1234X",  # new-energy small: last four are digits
        "粤B1234XD",  # new-energy large: five digits before the energy letter
        "京A1234港",  # 港/澳 only on 粤Z
        "使12345",
        "使1984767",
        "京A12345警",  # suffix plates have 4, not 5, alnum
        "合肥城泊",
    ],
)
def test_non_plates_are_rejected(text: str) -> None:
    assert not is_valid(text)


def test_normalise_drops_separators_folds_width_and_lookalikes() -> None:
    assert normalise("皖A·12345") == "皖A12345"
    assert normalise("皖a-1 2.345") == "皖A12345"
    assert normalise("粤Ｂ１２３４５") == "粤B12345"  # full-width forms
    assert normalise("京AO1I23") == "京A01123"  # O and I are never on plates
    assert normalise("合肥城泊") == ""


@st.composite
def ordinary_plates(draw: st.DrawFn) -> str:
    return (
        draw(st.sampled_from(PROVINCES))
        + draw(st.sampled_from(LETTERS))
        + "".join(draw(st.lists(st.sampled_from(ALNUM), min_size=5, max_size=5)))
    )


@st.composite
def new_energy_plates(draw: st.DrawFn) -> str:
    head = draw(st.sampled_from(PROVINCES)) + draw(st.sampled_from(LETTERS))
    digits = "".join(draw(st.lists(st.sampled_from(DIGITS), min_size=5, max_size=5)))
    energy = draw(st.sampled_from(NEV_LETTERS))
    if draw(st.booleans()):
        return head + energy + draw(st.sampled_from(ALNUM)) + digits[1:]
    return head + digits + energy


@given(ordinary_plates() | new_energy_plates())
def test_generated_plates_are_valid_and_survive_normalising(text: str) -> None:
    assert is_valid(text)
    assert normalise(text) == text
    assert normalise("·".join(text)) == text


@given(ordinary_plates(), st.integers(min_value=0, max_value=6))
def test_a_plate_with_an_i_or_o_letter_is_never_valid(text: str, pos: int) -> None:
    for bad in "IO":
        assert not is_valid(text[:pos] + bad + text[pos + 1 :])


@given(st.text(max_size=12))
def test_normalise_is_idempotent_and_only_keeps_plate_characters(raw: str) -> None:
    once = normalise(raw)
    assert normalise(once) == once
    assert all(c not in "·-. IO" for c in once)


def _greedy(text: str, p: float = 0.9) -> list[list[tuple[str, float]]]:
    return [[(c, p)] for c in text]


def test_best_valid_keeps_a_read_that_is_already_valid() -> None:
    picked = best_valid(_greedy("京A12345"))
    assert picked is not None and "".join(c for c, _ in picked) == "京A12345"


def test_best_valid_swaps_in_the_most_probable_alternative_that_fits() -> None:
    positions = _greedy("皖81234S")
    positions[1] = [("8", 0.6), ("B", 0.3), ("H", 0.1)]  # a letter must follow the province
    picked = best_valid(positions)
    assert picked is not None
    assert "".join(c for c, _ in picked) == "皖B1234S"
    assert picked[1] == ("B", 0.3)


def test_best_valid_can_drop_a_spurious_character() -> None:
    positions = [[("1", 0.5), ("", 0.4)], *_greedy("皖A12345")]
    picked = best_valid(positions)
    assert picked is not None and "".join(c for c, _ in picked) == "皖A12345"


def test_best_valid_does_not_rewrite_a_read_beyond_max_changes() -> None:
    positions = [[(c, 0.9), (d, 0.1)] for c, d in zip("警警警警警警警", "京A12345", strict=True)]
    assert best_valid(positions, max_changes=2) is None
    picked = best_valid(positions, max_changes=7, max_expansions=10_000)
    assert picked is not None
    # the cheapest fix keeps the one position a police plate allows
    assert "".join(c for c, _ in picked) == "京A1234警"


@given(ordinary_plates(), st.integers(min_value=1, max_value=6), st.sampled_from("京I"))
def test_one_corrupted_position_is_repaired_when_the_truth_is_an_alternative(
    text: str, pos: int, bad: str
) -> None:
    positions = _greedy(text)
    positions[pos] = [(bad, 0.7), (text[pos], 0.2)]
    picked = best_valid(positions)
    assert picked is not None
    assert is_valid("".join(c for c, _ in picked))
    assert sum(a != b for a, b in zip("".join(c for c, _ in picked), text, strict=True)) == 0


@pytest.mark.parametrize("max_changes", [1, 2, 3])
def test_best_valid_repairs_exactly_up_to_max_changes(max_changes: int) -> None:
    """A read needing `max_changes` repairs is repaired; one needing one more is not."""
    truth = "京A12345"
    corrupt = {0: "I", 1: "8", 2: "O", 3: "I"}  # each invalid where it stands

    def read(wrong: int) -> list[list[tuple[str, float]]]:
        positions = _greedy(truth)
        for pos in list(corrupt)[:wrong]:
            positions[pos] = [(corrupt[pos], 0.8), (truth[pos], 0.2)]
        return positions

    picked = best_valid(read(max_changes), max_changes=max_changes)
    assert picked is not None and "".join(c for c, _ in picked) == truth
    assert best_valid(read(max_changes + 1), max_changes=max_changes) is None
    assert best_valid(read(max_changes + 1), max_changes=max_changes + 1) is not None


@pytest.mark.parametrize(
    ("text", "colour", "fits"),
    [
        ("沪AD12345", "green", True),
        ("粤B12345D", "green", True),
        ("皖1149885", "green", True),  # agricultural, double row
        ("沪A12345", "green", False),  # a green plate has 8 characters
        ("沪AD12345", "blue", False),
        ("京A12345", "blue", True),
        ("琼A6716学", "yellow", True),
        ("粤A1234挂", "yellow", True),
        ("渝D00796", "yellow", True),
        ("粤B12345D", "yellow", True),  # large new-energy plates are yellow-green
        ("琼A6716学", "blue", False),
        # white and black plates are decided by their text: nothing to contradict
        ("鄂F8888警", "white", True),
        ("VA30093", "white", True),
        ("粤ZR066港", "black", True),
        ("粤Z1234澳", "black", True),
        ("使198476", "black", True),
        ("沪A1234领", "black", True),
    ],
)
def test_a_plate_colour_allows_only_its_formats(text: str, colour: str, fits: bool) -> None:
    assert fits_colour(text, colour) is fits


@pytest.mark.parametrize(
    ("read", "colour", "repaired"),
    [
        ("皖A022939", "green", "皖AD22939"),  # third of a small new-energy plate is a letter
        ("粤A123450", "green", "粤A12345D"),  # last of a large one is the energy letter
        ("粤B123450", "green", None),  # or 粤8123450, a farm plate: not certain
        ("沪AF1234D", "green", "沪AF12340"),  # the last four of a small one are digits
        ("沪AD1234D", "green", None),  # or 沪A01234D, a large one
        ("沪AD12345", "green", None),  # fits already
        ("沪A12345", "green", None),  # a missing character is not a shape twin: re-read
        ("京A0D000", "blue", None),  # fits blue
        ("皖A0B8D08", "green", None),  # two repairs possible: the vote decides, not a guess
    ],
)
def test_certain_repair_swaps_a_shape_twin_only_when_the_colour_leaves_one_answer(
    read: str, colour: str, repaired: str | None
) -> None:
    assert certain_repair(read, colour) == repaired


def test_best_valid_within_the_formats_of_a_colour() -> None:
    # 8 read characters; as a blue plate the 8th would be dropped, as green it is kept
    alts = [[(c, 0.9), ("", 0.01)] for c in "沪AD1234"] + [[("5", 0.6), ("", 0.3)]]
    assert "".join(c for c, _ in best_valid(alts) or []) == "沪AD12345"
    blue = best_valid(alts, formats=COLOUR_FORMATS["blue"])
    assert blue is None or len(blue) == 7
    green = best_valid(alts, formats=COLOUR_FORMATS["green"])
    assert green is not None and "".join(c for c, _ in green) == "沪AD12345"
