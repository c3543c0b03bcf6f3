"""One result per vehicle pass: vote the reads of a track into a single plate.

A single frame is often blurred, half-occluded or caught at an angle; the same plate seen over
a dozen frames is read right by most of them. Voting is per character position, weighted by
the reader's character confidence, among reads of the winning length (valid reads only when
there are any). Everything here is deterministic: ties break on fixed keys, never on order
of arrival or hashing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from edge.vision.plates.color import PlateColour, PlateType, decide_colour, decide_type
from edge.vision.plates.detect import PlateDetection
from edge.vision.plates.grammar import is_valid
from edge.vision.plates.pipeline import PlateRead
from edge.vision.plates.tracker import PlateTracker, iou_matrix


@dataclass(frozen=True, slots=True, eq=False)
class PlateVote:
    text: str
    confidence: float  # mean of `char_confidences`
    # per position: the winning character's summed confidence over all voting reads, so
    # disagreement lowers it as much as doubt does
    char_confidences: tuple[float, ...]
    colour: PlateColour
    plate_type: PlateType
    valid: bool
    double_row: bool
    best: PlateRead  # the read whose crop represents the pass
    reads: int  # how many reads were voted


@dataclass(frozen=True, slots=True, eq=False)
class PlatePass:
    """A vehicle pass: one voted plate for one track."""

    track_id: int
    vote: PlateVote
    first_frame: int
    last_frame: int
    first_ts: float
    last_ts: float

    @property
    def text(self) -> str:
        return self.vote.text


def reportable(vote: PlateVote, min_confidence: float) -> bool:
    """Whether a voted pass becomes a plate event (the daemon's rule, in one place so the
    tests that compare it with `edge vision detect` check the same one)."""
    return bool(vote.text) and vote.confidence >= min_confidence


def _weight(read: PlateRead) -> float:
    return max(read.confidence, 1e-3)


def crop_score(read: PlateRead) -> float:
    """Confidence scaled by size: a plate under 160 px wide loses detail for a human eye."""
    width = read.box[2] - read.box[0]
    return read.confidence * min(1.0, width / 160.0)


#: A read at least this confident, and valid, identifies its plate for the tracker.
KEY_MIN_CONFIDENCE = 0.8


def track_key(read: PlateRead) -> str:
    """The read's text when it is sure enough to tell this plate from another, else ""."""
    return read.text if read.valid and read.confidence >= KEY_MIN_CONFIDENCE else ""


def vote(reads: Sequence[PlateRead]) -> PlateVote | None:
    """Vote reads of one plate; None when no read has any text."""
    pool = [r for r in reads if r.text]
    if not pool:
        return None
    valid_pool = [r for r in pool if r.valid]
    if valid_pool:
        pool = valid_pool
    by_len: dict[int, list[PlateRead]] = defaultdict(list)
    for r in pool:
        by_len[len(r.text)].append(r)
    length = max(by_len, key=lambda n: (sum(_weight(r) for r in by_len[n]), len(by_len[n]), n))
    group = by_len[length]
    chars: list[str] = []
    confs: list[float] = []
    for i in range(length):
        tally: dict[str, float] = defaultdict(float)
        for r in group:
            c = r.char_confidences[i] if i < len(r.char_confidences) else r.confidence
            tally[r.text[i]] += max(c, 1e-3)
        ch = min(tally, key=lambda k: (-tally[k], k))
        chars.append(ch)
        confs.append(tally[ch] / len(group))
    text = "".join(chars)
    if valid_pool and not is_valid(text):
        # Mixing positions built an invalid string: fall back to the best-supported whole read.
        support: dict[str, float] = defaultdict(float)
        for r in group:
            support[r.text] += _weight(r)
        text = min(support, key=lambda k: (-support[k], k))
        confs = [support[text] / len(group)] * length
    double_row = sum(_weight(r) for r in pool if r.double_row) * 2 > sum(_weight(r) for r in pool)
    colour_w: dict[PlateColour, float] = defaultdict(float)
    for r in pool:
        colour_w[r.colour] += _weight(r)
    majority = min(colour_w, key=lambda c: (-colour_w[c], c.value))
    colour = decide_colour(text, None, majority)
    best = max(
        reads,
        key=lambda r: (r.text == text, crop_score(r), r.box[2] - r.box[0], r.confidence),
    )
    return PlateVote(
        text=text,
        confidence=sum(confs) / len(confs),
        char_confidences=tuple(confs),
        colour=colour,
        plate_type=decide_type(text, colour, double_row),
        valid=is_valid(text),
        double_row=double_row,
        best=best,
        reads=len(pool),
    )


#: A track is settled after this many reads in a row of one text, valid and sure...
SETTLE_READS = 3
SETTLE_CONFIDENCE = 0.95
#: ...and its plate stays read while a detection overlaps its last box this much...
SETTLED_IOU = 0.7
#: ...for at most this many frames in a row before it is read again.
MAX_REUSE = 4


@dataclass(slots=True)
class _Open:
    reads: list[PlateRead]
    first_frame: int
    last_frame: int
    first_ts: float
    last_ts: float
    sure: list[PlateRead] = field(default_factory=list)
    """The latest run of real reads of one text, valid and sure (`SETTLE_CONFIDENCE`)."""
    reused: int = 0
    """Frames in a row this track's read was reused instead of read."""
    last_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    def note(self, read: PlateRead) -> None:
        self.last_box = read.box
        if read.reused:
            self.reused += 1
            return
        self.reused = 0
        if read.valid and read.confidence >= SETTLE_CONFIDENCE:
            if not self.sure or self.sure[-1].text != read.text:
                self.sure = []
            self.sure = [*self.sure[-(SETTLE_READS - 1) :], read]
        else:
            self.sure = []


class PlatePasses:
    """Tracker + voter: feed each sampled frame's reads, get passes back as tracks end.

    Each track keeps at most `max_reads` reads; past that the least useful read (lowest crop
    score) is dropped and counted in `dropped_reads`, so a parked car cannot grow memory.
    """

    def __init__(self, tracker: PlateTracker | None = None, max_reads: int = 32) -> None:
        self.tracker = tracker or PlateTracker()
        self.max_reads = max_reads
        self.open: dict[int, _Open] = {}
        self.dropped_reads = 0
        self.last_ids: list[int] = []  # track of each read of the last `feed`, in order

    def feed(self, reads: Sequence[PlateRead], frame_index: int, ts: float) -> list[PlatePass]:
        """Add one frame's reads; returns the passes whose tracks ended by this frame."""
        ids = self.tracker.update(
            [r.box for r in reads], frame_index, ts, [track_key(r) for r in reads]
        )
        self.last_ids = ids
        for tid, read in zip(ids, reads, strict=True):
            entry = self.open.get(tid)
            if entry is None:
                entry = self.open[tid] = _Open([read], frame_index, frame_index, ts, ts)
                entry.note(read)
                continue
            entry.note(read)
            entry.reads.append(read)
            entry.last_frame, entry.last_ts = frame_index, ts
            if len(entry.reads) > self.max_reads:
                worst = min(range(len(entry.reads)), key=lambda i: crop_score(entry.reads[i]))
                del entry.reads[worst]
                self.dropped_reads += 1
        return self._close(self.tracker.expire(frame_index, ts))

    def reusable(self, det: PlateDetection) -> PlateRead | None:
        """The read of a settled track this detection continues, placed at the detection;
        None: read it.

        A plate read the same, validly and surely, `SETTLE_READS` times in a row is not
        read again while it stays put (IoU >= `SETTLED_IOU` with its last box), except
        every `MAX_REUSE` + 1-th frame, which reads it to catch a change. The reused read
        votes like the read it copies, so the pass's text and best crop are what they
        would have been; the time saved is the reader's, most of a plate frame's cost.
        """
        for entry in self.open.values():
            if len(entry.sure) < SETTLE_READS or entry.reused >= MAX_REUSE:
                continue
            if float(iou_matrix([entry.last_box], [det.box])[0, 0]) >= SETTLED_IOU:
                return replace(
                    entry.sure[-1],
                    box=det.box,
                    corners=det.corners,
                    det_score=det.score,
                    reused=True,
                )
        return None

    def flush(self) -> list[PlatePass]:
        """End every open pass (stream stopped or camera removed)."""
        return self._close(self.tracker.clear())

    def _close(self, ids: Sequence[int]) -> list[PlatePass]:
        out = []
        for tid in ids:
            entry = self.open.pop(tid, None)
            if entry is None:
                continue
            voted = vote(entry.reads)
            if voted is not None:
                out.append(
                    PlatePass(
                        tid,
                        voted,
                        entry.first_frame,
                        entry.last_frame,
                        entry.first_ts,
                        entry.last_ts,
                    )
                )
        return out
