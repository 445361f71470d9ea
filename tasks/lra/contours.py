"""A Pathfinder image generator (numpy only), after drewlinsley/pathfinder's snakes2.

An image holds two *target* contours whose starting tips lie ``seed_distance`` apart,
short *distractor* contours, and two circular markers. A contour is a chain of
paddles (short line segments) separated by a gap of ``2 * paddle_margin`` around each
joint; each next paddle turns by an angle drawn with weight
``cos(min(|turn| * continuity, pi/2))**2``, so the path curves smoothly (continuity 1
allows turns up to 90 degrees, 1.8 up to 50). As in the original, label 1 puts the
markers on the starting and the final tip of the same target contour, label 0 on the
starting tip of one and the final tip of the other.

Unlike the original, which only kept paddles off each other's pixels, distinct
contours here never touch: every contour's pixels, its tips' marker discs included,
stay ``separation`` empty pixels away from every other contour's (8-neighbourhood).
So the answer is always visible in the image: with ``paddle_margin=0`` a flood fill
from one marker reaches the other exactly when the label is 1.

Pixels are drawn anti-aliased: full intensity within half the thickness of a segment,
fading to 0 over half a pixel more, then rounded to 0..255. For speed, paddles start
on a quarter-pixel grid and turn in whole degrees, so that each (heading, sub-pixel
offset) is rendered once and then stamped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: Width of the anti-aliasing ramp at the edge of paddles and markers, in pixels.
EDGE = 0.5
#: Turning angles considered for the next paddle: every 5 degrees.
N_TURNS = 72
SIN_DEG = np.sin(np.radians(np.arange(360)))
COS_DEG = np.cos(np.radians(np.arange(360)))
DIFFICULTY_CONTOUR_LENGTH = {"easy": 6, "intermediate": 9, "hard": 14}


@dataclass(frozen=True)
class PathfinderConfig:
    image_size: int = 32
    #: Paddles in each of the two target contours.
    contour_length: int = 14
    distractor_length: int = 4
    num_distractors: int = 5
    paddle_length: float = 2.0
    paddle_thickness: float = 0.5
    #: Gap on each side of a joint between paddles; one is drawn per image from the
    #: tuple (the original's paddle_margin_list). 0 makes paddles touch.
    paddle_margin: tuple[float, ...] = (1.0,)
    marker_radius: float = 1.5
    continuity: float = 1.0
    seed_distance: float = 7.0
    #: Border, in pixels, that no paddle enters.
    padding: int = 1
    #: Empty pixels kept between distinct contours (and their marker discs).
    separation: int = 1
    paddle_intensity: float = 1.0
    #: Paddles the two targets may take back, in all, to leave dead ends.
    max_backtracks: int = 20
    #: Places tried for one distractor before it is left out.
    max_distractor_trials: int = 4
    #: Fresh starts of the two target contours before an image is declared impossible.
    max_target_trials: int = 200

    def __post_init__(self) -> None:
        if not self.paddle_margin or min(self.paddle_margin) < 0:
            raise ValueError(f"paddle_margin must hold values >= 0, got {self.paddle_margin}")
        if self.contour_length < 1 or self.paddle_length <= 0:
            raise ValueError("contour_length must be >= 1 and paddle_length > 0")
        if self.continuity <= 0 or not 0 < self.paddle_intensity <= 1:
            raise ValueError("continuity must be > 0 and paddle_intensity in (0, 1]")

    @classmethod
    def lra(cls, image_size: int = 32, difficulty: str = "hard", **overrides) -> PathfinderConfig:
        """The settings LRA's pathfinder{32,64,128,256} data were generated with (from the
        docstrings of lra_benchmarks/data/pathfinder.py and snakes2_wrapper's defaults)."""
        if difficulty not in DIFFICULTY_CONTOUR_LENGTH:
            raise ValueError(f"difficulty must be one of {sorted(DIFFICULTY_CONTOUR_LENGTH)}")
        if image_size not in LRA_SETTINGS:
            raise ValueError(f"LRA has image sizes {sorted(LRA_SETTINGS)}, not {image_size}")
        length = DIFFICULTY_CONTOUR_LENGTH[difficulty]
        settings = dict(LRA_SETTINGS[image_size])
        budget = settings.pop("distractor_budget")
        if image_size == 32:  # integer division in that script
            distractors = budget // (length // 3)
        else:  # a float count there, with `while i < count`
            distractors = math.ceil(budget / (length / 3))
        base = dict(
            image_size=image_size,
            contour_length=length,
            distractor_length=max(1, length // 3),
            num_distractors=distractors,
            **settings,
        )
        return cls(**(base | overrides))


LRA_SETTINGS: dict[int, dict] = {
    32: dict(
        paddle_length=2.0,
        paddle_thickness=0.5,
        paddle_margin=(1.0,),
        marker_radius=1.5,
        continuity=1.0,
        seed_distance=7.0,
        padding=1,
        distractor_budget=20,
    ),
    64: dict(
        paddle_length=5.0,
        paddle_thickness=1.0,
        paddle_margin=(1.0,),
        marker_radius=2.5,
        continuity=1.8,
        seed_distance=12.0,
        padding=1,
        distractor_budget=22,
    ),
    128: dict(
        paddle_length=5.0,
        paddle_thickness=1.5,
        paddle_margin=(2.0, 3.0),
        marker_radius=3.0,
        continuity=1.8,
        seed_distance=20.0,
        padding=1,
        distractor_budget=35,
    ),
    256: dict(
        paddle_length=5.0,
        paddle_thickness=2.0,
        paddle_margin=(3.0,),
        marker_radius=5.0,
        continuity=1.8,
        seed_distance=27.0,
        padding=22,
        distractor_budget=30,
    ),
}


@dataclass
class PathfinderImage:
    pixels: np.ndarray  # (size, size) uint8
    label: int
    #: (y, x) centres of the two markers, for checking the label against the pixels.
    markers: tuple[tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class Stamp:
    """A pre-rendered paddle or marker around an anchor pixel: its window starts at
    (top, left) from the anchor; ``fp_*`` bound the drawn pixels within it."""

    top: int
    left: int
    values: np.ndarray  # uint8
    footprint: np.ndarray  # bool: values > 0
    halo: np.ndarray  # uint8 0/1: footprint grown by the separation
    fp_rows: tuple[int, int]
    fp_cols: tuple[int, int]


@lru_cache(maxsize=65536)
def segment_stamp(
    heading_deg: int,
    quarter_y: int,
    quarter_x: int,
    length: float,
    half: float,
    sep: int,
    intensity: float,
) -> Stamp:
    """A paddle from (quarter_y / 4, quarter_x / 4) past the anchor, ``length`` long."""
    y0, x0 = quarter_y / 4, quarter_x / 4
    angle = math.radians(heading_deg)
    dy, dx = length * math.sin(angle), length * math.cos(angle)

    def distance(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        t = ((ys - y0) * dy + (xs - x0) * dx) / (length * length)
        t = np.minimum(np.maximum(t, 0.0), 1.0)
        return np.hypot(ys - (y0 + t * dy), xs - (x0 + t * dx))

    box = (min(y0, y0 + dy), max(y0, y0 + dy), min(x0, x0 + dx), max(x0, x0 + dx))
    return _render(distance, box, half, sep, intensity)


@lru_cache(maxsize=4096)
def disc_stamp(quarter_y: int, quarter_x: int, radius: float, sep: int) -> Stamp:
    y0, x0 = quarter_y / 4, quarter_x / 4

    def distance(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        return np.hypot(ys - y0, xs - x0)

    return _render(distance, (y0, y0, x0, x0), radius, sep, 1.0)


def _render(distance_of, box: tuple[float, ...], radius: float, sep: int, intensity: float):
    """Pixels within ``radius + EDGE`` of a shape inside ``box`` (y0, y1, x0, x1);
    ``distance_of(ys, xs)`` gives the distance of pixel centres to it."""
    reach = radius + EDGE + sep + 1
    top, left = math.floor(box[0] - reach), math.floor(box[2] - reach)
    ys = np.arange(top, math.ceil(box[1] + reach) + 1, dtype=np.float64)[:, None]
    xs = np.arange(left, math.ceil(box[3] + reach) + 1, dtype=np.float64)[None, :]
    ramp = np.minimum(np.maximum((radius + EDGE - distance_of(ys, xs)) / EDGE, 0.0), 1.0)
    values = np.rint(ramp * (255 * intensity)).astype(np.uint8)
    footprint = values > 0
    rows, cols = np.flatnonzero(footprint.any(axis=1)), np.flatnonzero(footprint.any(axis=0))
    halo = _dilate(footprint, sep).astype(np.uint8)
    for array in (values, footprint, halo):
        array.setflags(write=False)
    return Stamp(
        top, left, values, footprint, halo, (rows[0], rows[-1] + 1), (cols[0], cols[-1] + 1)
    )


def _dilate(mask: np.ndarray, steps: int) -> np.ndarray:
    """Grow a mask by ``steps`` pixels in the 8-neighbourhood (a 3x3 square per step)."""
    for _ in range(steps):
        rows = mask.copy()
        rows[1:] |= mask[:-1]
        rows[:-1] |= mask[1:]
        mask = rows.copy()
        mask[:, 1:] |= rows[:, :-1]
        mask[:, :-1] |= rows[:, 1:]
    return mask


def _quarters(value: float) -> tuple[int, int]:
    """A coordinate snapped to the quarter-pixel grid: (whole pixel, quarters past it)."""
    q = round(value * 4)
    return q // 4, q % 4


@dataclass(frozen=True)
class Placed:
    """A stamp at an anchor pixel, with the image and stamp windows it covers."""

    stamp: Stamp
    image: tuple[slice, slice]
    local: tuple[slice, slice]

    def hits(self, blocked: np.ndarray) -> bool:
        """Whether any drawn pixel lands on a blocked (True) pixel."""
        return bool((blocked[self.image] & self.stamp.footprint[self.local]).any())


def place(stamp: Stamp, anchor: tuple[int, int], size: int, padding: int | None) -> Placed | None:
    """The stamp at ``anchor``, or None when a drawn pixel falls outside the image less
    its ``padding`` (None: markers may be cut by the border)."""
    ay, ax = anchor
    if padding is not None:
        lo, hi = padding, size - padding
        fy, fx = stamp.fp_rows, stamp.fp_cols
        if ay + stamp.top + fy[0] < lo or ay + stamp.top + fy[1] > hi:
            return None
        if ax + stamp.left + fx[0] < lo or ax + stamp.left + fx[1] > hi:
            return None
    top, left = ay + stamp.top, ax + stamp.left
    height, width = stamp.values.shape
    r0, r1 = max(0, top), min(size, top + height)
    c0, c1 = max(0, left), min(size, left + width)
    if r0 >= r1 or c0 >= c1:
        return None
    image = (slice(r0, r1), slice(c0, c1))
    local = (slice(r0 - top, r1 - top), slice(c0 - left, c1 - left))
    return Placed(stamp, image, local)


class Canvas:
    """Pixels and occupancy of one image being drawn."""

    def __init__(self, config: PathfinderConfig) -> None:
        self.config = config
        size = config.image_size
        self.pixels = np.zeros((size, size), dtype=np.uint8)
        #: Halo counts of every contour finished so far.
        self.taken = np.zeros((size, size), dtype=np.uint16)
        # Turns of whole multiples of 360 / N_TURNS degrees, in (-180, 180], and their
        # continuity weights cos(min(|turn| * continuity, 90 degrees))**2.
        step = 360 // N_TURNS
        self.turns = [(j * step + 180) % 360 - 180 for j in range(N_TURNS)]
        self.turns_array = np.array(self.turns)
        bend = np.minimum(np.abs(np.radians(self.turns)) * config.continuity, np.pi / 2)
        self.turn_weights = np.cos(bend) ** 2
        self.straight_on = (self.turns_array == 0).astype(np.float64)

    def paddle(self, start: tuple[float, float], heading_deg: int) -> Placed | None:
        cfg = self.config
        (ay, qy), (ax, qx) = _quarters(start[0]), _quarters(start[1])
        stamp = segment_stamp(
            heading_deg % 360,
            qy,
            qx,
            cfg.paddle_length,
            cfg.paddle_thickness / 2,
            cfg.separation,
            cfg.paddle_intensity,
        )
        return place(stamp, (ay, ax), cfg.image_size, cfg.padding)

    def marker(self, centre: tuple[float, float]) -> Placed | None:
        cfg = self.config
        (ay, qy), (ax, qx) = _quarters(centre[0]), _quarters(centre[1])
        stamp = disc_stamp(qy, qx, cfg.marker_radius, cfg.separation)
        return place(stamp, (ay, ax), cfg.image_size, padding=None)

    def draw(self, placed: Placed) -> None:
        window = self.pixels[placed.image]
        np.maximum(window, placed.stamp.values[placed.local], out=window)


def _add(counts: np.ndarray, placed: Placed, sign: int = 1) -> None:
    window = counts[placed.image]
    halo = placed.stamp.halo[placed.local]
    if sign > 0:
        window += halo
    else:
        window -= halo


def _snap(point: tuple[float, float]) -> tuple[float, float]:
    return round(point[0] * 4) / 4, round(point[1] * 4) / 4


def _move(point: tuple[float, float], heading_deg: int, distance: float) -> tuple[float, float]:
    angle = math.radians(heading_deg)
    return point[0] + distance * math.sin(angle), point[1] + distance * math.cos(angle)


class Contour:
    """A chain of paddles being grown, with the halo it reserves on the canvas. Halos
    are kept as counts so that the last paddle can be taken back."""

    def __init__(
        self, canvas: Canvas, tip: tuple[float, float], heading_deg: int, margin: float
    ) -> None:
        cfg = canvas.config
        size = cfg.image_size
        self.canvas, self.margin = canvas, margin
        self.tip = _snap(tip)
        self.start_heading = heading_deg
        self.halo = np.zeros((size, size), dtype=np.uint16)  # all of it, for others
        self.old_halo = np.zeros((size, size), dtype=np.uint16)  # its older paddles
        #: (placed paddle, heading, far end) of each paddle.
        self.paddles: list[tuple[Placed, int, tuple[float, float]]] = []
        # Paddles this few steps apart along the path lie within each other's halo by
        # construction, so only older ones count when it must not cross itself.
        reach = 2 * (cfg.paddle_thickness / 2 + EDGE) + cfg.separation * math.sqrt(2)
        step = cfg.paddle_length + 2 * margin
        self.neighbours = max(1, int((reach - 2 * margin) // step) + 1)
        # Distances from the pivot of the points _may_fit tests on a paddle.
        self.along = margin + np.linspace(0, cfg.paddle_length, int(cfg.paddle_length) + 2)

    def __len__(self) -> int:
        return len(self.paddles)

    @property
    def heading(self) -> int:
        return self.paddles[-1][1] if self.paddles else self.start_heading

    @property
    def end(self) -> tuple[float, float]:
        return self.paddles[-1][2]

    def grow(self, rng: np.random.Generator, avoid: list[np.ndarray], last: bool = False) -> bool:
        """Add one paddle whose pixels keep off the non-zero pixels of each ``avoid``
        array and off its own older paddles, turning by an angle drawn among those that
        fit, weighted by continuity. The ``last`` paddle also needs room for a marker
        at its far end, which it then reserves."""
        canvas, cfg = self.canvas, self.canvas.config
        blocked = self.old_halo > 0
        for counts in avoid:
            blocked |= counts > 0
        if self.paddles:
            pivot = _move(self.end, self.heading, self.margin)
            weights = canvas.turn_weights
        else:  # the first paddle keeps the sampled heading
            pivot = _move(self.tip, self.heading, -self.margin)
            weights = canvas.straight_on
        weights = weights * self._may_fit(pivot, blocked)
        for choice in _weighted_order(rng, weights):
            heading = (self.heading + canvas.turns[choice]) % 360
            start = _snap(_move(pivot, heading, self.margin))
            paddle = canvas.paddle(start, heading)
            if paddle is None or paddle.hits(blocked):
                continue
            end = _snap(_move(start, heading, cfg.paddle_length))
            marker = canvas.marker(end) if last else None
            if marker is not None and marker.hits(blocked):
                continue
            self._add(paddle, heading, end)
            if marker is not None:
                self.reserve(marker)
            return True
        return False

    def _may_fit(self, pivot: tuple[float, float], blocked: np.ndarray) -> np.ndarray:
        """A cheap test of every turn at once: the pixel nearest each point of a paddle
        is always drawn, so a paddle with a point on a blocked pixel or in the border
        cannot fit (fitting is then checked on the drawn paddle)."""
        canvas, cfg = self.canvas, self.canvas.config
        headings = (self.heading + canvas.turns_array) % 360
        ys = np.rint(pivot[0] + SIN_DEG[headings][:, None] * self.along).astype(np.intp)
        xs = np.rint(pivot[1] + COS_DEG[headings][:, None] * self.along).astype(np.intp)
        lo, hi = cfg.padding, cfg.image_size - cfg.padding
        inside = ((ys >= lo) & (ys < hi) & (xs >= lo) & (xs < hi)).all(axis=1)
        last = cfg.image_size - 1
        ys, xs = np.minimum(np.maximum(ys, 0), last), np.minimum(np.maximum(xs, 0), last)
        return inside & ~blocked[ys, xs].any(axis=1)

    def _add(self, paddle: Placed, heading: int, end: tuple[float, float]) -> None:
        self.paddles.append((paddle, heading, end))
        _add(self.halo, paddle)
        if len(self.paddles) > self.neighbours:
            _add(self.old_halo, self.paddles[-1 - self.neighbours][0])

    def step_back(self) -> None:
        """Take back the last paddle (to leave a dead end)."""
        if len(self.paddles) > self.neighbours:
            _add(self.old_halo, self.paddles[-1 - self.neighbours][0], -1)
        paddle = self.paddles.pop()[0]
        _add(self.halo, paddle, -1)

    def reserve(self, placed: Placed) -> None:
        _add(self.halo, placed)

    def draw(self) -> None:
        for paddle, _, _ in self.paddles:
            self.canvas.draw(paddle)


def _weighted_order(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """Indices of positive weights in the order of successive draws without
    replacement, each proportional to its weight (an exponential race: the first to
    finish is drawn with probability w_i / sum w)."""
    positive = np.flatnonzero(weights > 0)
    finish = rng.exponential(size=positive.size) / weights[positive]
    return positive[np.argsort(finish, kind="stable")]


def generate_image(config: PathfinderConfig, rng: np.random.Generator) -> PathfinderImage:
    label = int(rng.integers(2))
    margin = float(config.paddle_margin[int(rng.integers(len(config.paddle_margin)))])
    for _ in range(config.max_target_trials):
        canvas = Canvas(config)
        targets = _two_targets(canvas, rng, margin)
        if targets is not None:
            break
    else:
        raise RuntimeError(
            f"could not place two target contours of {config.contour_length} paddles in "
            f"{config.max_target_trials} tries; the image is too small for them: "
            f"shorten contour_length or paddle_length, or enlarge image_size"
        )
    for contour in targets:
        contour.draw()
        canvas.taken += contour.halo
    for _ in range(config.num_distractors):
        _add_distractor(canvas, rng, margin)
    first = int(rng.integers(2))
    other = first if label == 1 else 1 - first
    markers = (targets[first].tip, targets[other].end)
    for centre in markers:
        canvas.draw(canvas.marker(centre))
    return PathfinderImage(canvas.pixels, label, markers)


def _two_targets(
    canvas: Canvas, rng: np.random.Generator, margin: float
) -> tuple[Contour, Contour] | None:
    """Grow the two target contours a paddle at a time each, stepping back out of dead
    ends up to ``max_backtracks`` times; None when they do not fit."""
    cfg = canvas.config
    size = cfg.image_size
    # As in the original, the first tip keeps 2 * seed_distance from the border where
    # the image allows, and the second lies seed_distance away in a random direction.
    lo = min(2 * cfg.seed_distance, size / 2 - 1)
    first = tuple(rng.uniform(lo, size - 1 - lo, size=2))
    second = _move(first, int(rng.integers(360)), cfg.seed_distance)
    pair = [Contour(canvas, tip, int(rng.integers(-180, 180)), margin) for tip in (first, second)]
    # Both tips of both targets keep a marker's room, whichever get the markers.
    for contour in pair:
        marker = canvas.marker(contour.tip)
        if marker is None:
            return None
        contour.reserve(marker)
    backtracks = 0
    while min(len(pair[0]), len(pair[1])) < cfg.contour_length:
        me = 0 if len(pair[0]) <= len(pair[1]) else 1
        last = len(pair[me]) == cfg.contour_length - 1
        if pair[me].grow(rng, [pair[1 - me].halo], last):
            continue
        # Step back further the more often we were stuck: one paddle rarely leaves a
        # cul-de-sac.
        steps = min(1 + backtracks // 2, len(pair[me]) - 1)
        if backtracks == cfg.max_backtracks or steps < 1:
            return None
        for _ in range(steps):
            pair[me].step_back()
        backtracks += 1
    return pair[0], pair[1]


def _add_distractor(canvas: Canvas, rng: np.random.Generator, margin: float) -> None:
    """A short contour in free space; left out after max_distractor_trials failures, as
    the original allows incomplete distractor sets."""
    cfg = canvas.config
    for _ in range(cfg.max_distractor_trials):
        free = np.flatnonzero(canvas.taken.reshape(-1) == 0)
        if free.size == 0:
            return
        tip = divmod(int(free[rng.integers(free.size)]), cfg.image_size)
        contour = Contour(canvas, tip, int(rng.integers(-180, 180)), margin)
        if all(contour.grow(rng, [canvas.taken]) for _ in range(cfg.distractor_length)):
            contour.draw()
            canvas.taken += contour.halo
            return
