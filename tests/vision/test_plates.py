"""Plate detection and reading with the real models on real photos and crops."""

from __future__ import annotations

import csv
import dataclasses
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from prereqs import SHARED_MIRROR, needs

from edge.vision.image import decode_image
from edge.vision.plates.color import PlateColour, PlateType
from edge.vision.plates.pipeline import PlateRead, PlateReader
from edge.vision.plates.reader import CTCDecoder
from edge.vision.plates.sessions import default_registry

REPO = Path(__file__).resolve().parents[2]
PLATES = REPO.parent / "shared" / "images" / "plates"
MODELS = REPO.parent / "shared" / "models"

pytestmark = needs(PLATES.is_dir() and MODELS.is_dir(), *SHARED_MIRROR)


Reads = dict[str, list[PlateRead]]


def scene_labels() -> dict[str, str]:
    with open(PLATES / "scenes" / "labels.csv", encoding="utf-8") as fh:
        return {row["file"]: row["plate"] for row in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader(default_registry(MODELS))


@pytest.fixture(scope="module")
def scene_reads(reader: PlateReader) -> Reads:
    return {f: reader.read_frame(decode_image(PLATES / "scenes" / f)) for f in scene_labels()}


def test_reads_at_least_eleven_of_the_twelve_street_scenes(scene_reads: Reads) -> None:
    labels = scene_labels()
    hits = [f for f, want in labels.items() if want in [r.text for r in scene_reads[f]]]
    assert len(hits) >= 11, sorted(set(labels) - set(hits))


@pytest.mark.parametrize(
    ("file", "colour", "plate_type", "double_row"),
    [
        ("we0091234_police.jpg", PlateColour.WHITE, PlateType.POLICE, False),
        ("we0091234_hongkang1.jpg", PlateColour.BLACK, PlateType.HK_MACAO, False),
        ("we0091234_xue.jpg", PlateColour.YELLOW, PlateType.COACH, False),
        ("we0091234_single_green.jpg", PlateColour.GREEN, PlateType.NEW_ENERGY_SMALL, False),
        ("zeusees_15.jpg", PlateColour.YELLOW, PlateType.YELLOW_DOUBLE, True),
        ("zeusees_17.jpg", PlateColour.BLACK, PlateType.EMBASSY, False),
        ("zeusees_19.jpg", PlateColour.BLUE, PlateType.BLUE, False),
    ],
)
def test_colour_type_and_rows_follow_the_plate(
    scene_reads: Reads,
    file: str,
    colour: PlateColour,
    plate_type: PlateType,
    double_row: bool,
) -> None:
    want = scene_labels()[file]
    (read,) = [r for r in scene_reads[file] if r.text == want]
    assert (read.colour, read.plate_type, read.double_row) == (colour, plate_type, double_row)
    assert read.valid


def test_geometry_is_in_frame_pixels_and_the_crop_is_upright(scene_reads: Reads) -> None:
    (read,) = [r for r in scene_reads["zeusees_3.jpg"] if r.text == "皖AH712X"]
    x1, y1, x2, y2 = read.box
    frame = decode_image(PLATES / "scenes" / "zeusees_3.jpg")
    assert 0 <= x1 < x2 <= frame.shape[1] and 0 <= y1 < y2 <= frame.shape[0]
    cx, cy = read.corners.mean(axis=0)
    assert x1 <= cx <= x2 and y1 <= cy <= y2
    h, w = read.crop.shape[:2]
    assert 2.5 < w / h < 5  # a single-row plate is about 3:1 once rectified
    assert abs(w - (x2 - x1)) < 0.25 * (x2 - x1)
    assert len(read.char_confidences) == len(read.text)
    assert 0.5 < read.confidence <= 1.0


def test_a_frame_without_plates_reads_nothing(reader: PlateReader) -> None:
    face = decode_image(REPO.parent / "shared" / "images" / "faces" / "misc" / "hpc203_s_l.jpg")
    assert reader.read_frame(face) == []
    assert reader.read_frame(np.zeros((720, 1280, 3), np.uint8)) == []


def test_reads_crops_at_least_as_well_as_the_floor(reader: PlateReader) -> None:
    files = sorted((PLATES / "crops").iterdir())[::10]  # 50 of the 500
    hits = sum(reader.read_crop(decode_image(f)).text == f.stem for f in files)
    assert hits >= 48


def test_an_eight_character_new_energy_crop(reader: PlateReader) -> None:
    read = reader.read_crop(decode_image(PLATES / "crops_extra" / "_1_皖KD01833.jpg"))
    assert read.text == "皖KD01833"
    assert read.plate_type is PlateType.NEW_ENERGY_SMALL and read.colour is PlateColour.GREEN


def test_a_loosely_cut_single_row_crop_is_not_mistaken_for_double_row(
    reader: PlateReader,
) -> None:
    read = reader.read_crop(decode_image(PLATES / "crops_extra" / "_0_津B6H920.jpg"))
    assert read.text == "津B6H920" and not read.double_row


def test_lprnet_is_a_usable_small_alternative() -> None:
    small = PlateReader(default_registry(MODELS), reader="lprnet", detector="320")
    files = sorted((PLATES / "crops").iterdir())[::10]
    hits = sum(small.read_crop(decode_image(f), double_row=False).text == f.stem for f in files)
    assert hits >= 40
    frame = decode_image(PLATES / "scenes" / "zeusees_19.jpg")
    assert "闽EVL838" in [r.text for r in small.read_frame(frame)]


def test_the_640_detector_can_be_chosen_and_agrees(reader: PlateReader) -> None:
    big = PlateReader(default_registry(MODELS), detector="640")
    assert big.det320 is None
    frame = decode_image(PLATES / "scenes" / "zeusees_19.jpg")
    assert [r.text for r in big.read_frame(frame)] == ["闽EVL838"]


def test_one_reader_serves_several_threads_with_the_same_results(
    reader: PlateReader,
    scene_reads: Reads,
) -> None:
    files = ["zeusees_3.jpg", "we0091234_police.jpg", "zeusees_15.jpg", "hyperlpr_2.jpg"]
    frames = {f: decode_image(PLATES / "scenes" / f) for f in files}
    got: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def work(f: str) -> None:
        try:
            for _ in range(3):
                got[f] = [r.text for r in reader.read_frame(frames[f])]
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f,)) for f in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert got == {f: [r.text for r in scene_reads[f]] for f in files}


def test_ctc_decoding_repairs_an_invalid_read_from_its_own_alternatives() -> None:
    vocab = ["<b>", "皖", "8", "B", "1", "2", "3", "4", "S", "·"]
    dec = CTCDecoder(vocab, blank=0)

    def step(best: str, p: float = 0.95, alt: str | None = None, q: float = 0.0) -> np.ndarray:
        row = np.full(len(vocab), 1e-4, np.float32)
        row[vocab.index(best)] = p
        if alt:
            row[vocab.index(alt)] = q
        return row / row.sum()

    seq = ["皖", "<b>", "8", "·", "1", "<b>", "2", "3", "4", "S"]
    probs = np.stack([step(c) for c in seq])
    probs[2] = step("8", 0.6, "B", 0.35)
    read = dec.decode(probs)
    assert read.raw == "皖8·1234S"
    assert read.text == "皖B1234S" and read.valid and read.repaired
    assert read.char_confidences[1] == pytest.approx(0.35, abs=0.03)


def test_a_small_plate_read_with_doubt_is_redetected_and_read_in_full(
    reader: PlateReader,
) -> None:
    """At 720p the police plate is ~44 px wide in the 320 input: its first crop clips the 警."""
    scene = decode_image(PLATES / "scenes" / "we0091234_police.jpg")
    frame = np.zeros((720, 1280, 3), np.uint8)
    h, w = 720, round(scene.shape[1] * 720 / scene.shape[0])
    frame[:, :w] = cv2.resize(scene, (w, h), interpolation=cv2.INTER_AREA)
    (read,) = reader.read_frame(frame)
    assert read.text == "鄂F8888警" and read.valid and read.plate_type is PlateType.POLICE


GREEN_SCENES = {"hyperlpr_test_img.jpg", "we0091234_single_green.jpg"}


def test_green_plates_read_as_eight_characters_the_colour_model_agrees_with(
    scene_reads: Reads,
) -> None:
    for f in GREEN_SCENES:
        (r,) = [r for r in scene_reads[f] if r.text == scene_labels()[f]]
        assert len(r.text) == 8 and r.colour is PlateColour.GREEN
        assert r.model_colour is PlateColour.GREEN and not r.contradicts_colour


def test_a_read_the_plate_colour_rules_out_is_read_again_before_it_is_voted(
    reader: PlateReader, scene_reads: Reads
) -> None:
    (r,) = scene_reads["we0091234_single_green.jpg"]
    # the same plate as a reader that lost the last character (7 on a green plate) and
    # as one that saw 0 for the energy letter: neither leaves the reader as it came
    short = dataclasses.replace(r, text="沪AF7101", char_confidences=r.char_confidences[:7])
    assert short.contradicts_colour
    again = reader.agree(short)
    assert (again.text, again.recoloured) == ("沪AF71017", True)
    twin = dataclasses.replace(r, text="沪A071017")
    assert reader.agree(twin).text == "沪AD71017"
    # a blue plate's read is never pushed into a green format
    (blue,) = scene_reads["zeusees_19.jpg"]
    assert blue.model_colour in (PlateColour.BLUE, None) and not blue.contradicts_colour
