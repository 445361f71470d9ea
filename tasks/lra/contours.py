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
fading to 0 over one more pixel, then rounded to 0..255.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

#: Width of the anti-aliasing ramp at the edge of paddles and markers, in pixels.
EDGE = 0.5
#: Turning angles considered for the next paddle: every 5 degrees.
N_TURNS = 72
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


@dataclass
class Patch:
    """Something drawn in a window of the image: its pixel values and its halo, the
    pixels other contours must stay out of."""

    rows: slice
    cols: slice
    values: np.ndarray  # uint8
    halo: np.ndarray  # bool

    @property
    def footprint(self) -> np.ndarray:
        return self.values > 0


class Canvas:
    """Pixels and occupancy of one image being drawn."""

    def __init__(self, config: PathfinderConfig) -> None:
        self.config = config
        size = config.image_size
        self.pixels = np.zeros((size, size), dtype=np.uint8)
        #: Halos of every contour finished so far (their pixels plus the separation).
        self.taken = np.zeros((size, size), dtype=bool)
        # Turning angles in (-pi, pi] and their continuity weights.
        turns = np.arange(N_TURNS) * (2 * np.pi / N_TURNS)
        self.turns = np.where(turns > np.pi, turns - 2 * np.pi, turns)
        bend = np.minimum(np.abs(self.turns) * config.continuity, np.pi / 2)
        self.turn_weights = np.cos(bend) ** 2

    def patch(
        self,
        distance_of: Callable[[np.ndarray, np.ndarray], np.ndarray],
        box: tuple[float, float, float, float],
        radius: float,
        intensity: float,
        padding: int,
    ) -> Patch | None:
        """Pixels within ``radius + EDGE`` of a shape inside ``box`` (y0, y1, x0, x1);
        ``distance_of(ys, xs)`` gives the distance of pixel centres to the shape. None
        when a drawn pixel falls in the ``padding`` border."""
        size = self.config.image_size
        y0, y1, x0, x1 = box
        outer = radius + EDGE + self.config.separation + 1
        r0, r1 = max(0, math.floor(y0 - outer)), min(size, math.ceil(y1 + outer) + 1)
        c0, c1 = max(0, math.floor(x0 - outer)), min(size, math.ceil(x1 + outer) + 1)
        ys = np.arange(r0, r1, dtype=np.float64)[:, None]
        xs = np.arange(c0, c1, dtype=np.float64)[None, :]
        ramp = (radius + EDGE - distance_of(ys, xs)) * (1 / EDGE)
        values = np.rint(np.minimum(np.maximum(ramp, 0.0), 1.0) * (255 * intensity))
        values = values.astype(np.uint8)
        footprint = values > 0
        if padding > 0:
            top, left = max(0, padding - r0), max(0, padding - c0)
            bottom, right = max(0, size - padding - r0), max(0, size - padding - c0)
            if (
                footprint[:top].any()
                or footprint[bottom:].any()
                or footprint[:, :left].any()
                or footprint[:, right:].any()
            ):
                return None
        halo = _dilate(footprint, self.config.separation)
        return Patch(slice(r0, r1), slice(c0, c1), values, halo)

    def segment(self, start: np.ndarray, end: np.ndarray) -> Patch | None:
        """A paddle, or None when it leaves the padded image."""
        last = self.config.image_size - 1
        if min(start.min(), end.min()) < 0 or max(start.max(), end.max()) > last:
            return None
        step = end - start

        def distance_of(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
            t = ((ys - start[0]) * step[0] + (xs - start[1]) * step[1]) / float(step @ step)
            t = np.minimum(np.maximum(t, 0.0), 1.0)
            return np.hypot(ys - (start[0] + t * step[0]), xs - (start[1] + t * step[1]))

        (y0, y1), (x0, x1) = sorted((start[0], end[0])), sorted((start[1], end[1]))
        half = self.config.paddle_thickness / 2
        cfg = self.config
        return self.patch(distance_of, (y0, y1, x0, x1), half, cfg.paddle_intensity, cfg.padding)

    def disc(self, centre: np.ndarray) -> Patch:
        """A marker; unlike paddles it may be cut by the image border."""

        def distance_of(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
            return np.hypot(ys - centre[0], xs - centre[1])

        box = (centre[0], centre[0], centre[1], centre[1])
        patch = self.patch(distance_of, box, self.config.marker_radius, 1.0, padding=0)
        assert patch is not None  # without padding nothing is refused
        return patch

    def hits(self, patch: Patch, blocked: np.ndarray) -> bool:
        return bool((patch.footprint & blocked[patch.rows, patch.cols]).any())

    def draw(self, patch: Patch) -> None:
        window = self.pixels[patch.rows, patch.cols]
        np.maximum(window, patch.values, out=window)


@dataclass
class Contour:
    """A chain of paddles being grown, with the halo it reserves on the canvas.

    Halos are kept as counts so that the last paddle can be taken back."""

    canvas: Canvas
    tip: np.ndarray  # where it starts (y, x)
    heading: float  # radians
    margin: float
    patches: list[Patch] = field(default_factory=list)
    #: (heading, far end) after each paddle, to step back to.
    states: list[tuple[float, np.ndarray]] = field(default_factory=list)

    def __post_init__(self) -> None:
        cfg = self.canvas.config
        size = cfg.image_size
        self.halo = np.zeros((size, size), dtype=np.uint8)  # all of it, for others
        self.old_halo = np.zeros((size, size), dtype=np.uint8)  # its older paddles
        self.start_heading = self.heading
        # Paddles this few steps apart along the path lie within each other's halo by
        # construction, so only older ones count when it must not cross itself.
        reach = 2 * (cfg.paddle_thickness / 2 + EDGE) + cfg.separation * math.sqrt(2)
        step = cfg.paddle_length + 2 * self.margin
        self.neighbours = max(1, int((reach - 2 * self.margin) // step) + 1)
        # Distances from the pivot of the points _may_fit tests on a paddle.
        self.along = self.margin + np.linspace(0, cfg.paddle_length, int(cfg.paddle_length) + 2)

    @property
    def end(self) -> np.ndarray:
        return self.states[-1][1]

    @property
    def pivot(self) -> np.ndarray:
        if not self.states:
            return self.tip - self.margin * _unit(self.heading)
        return self.end + self.margin * _unit(self.heading)

    def grow(self, rng: np.random.Generator, avoid: np.ndarray, last: bool = False) -> bool:
        """Add one paddle that keeps off ``avoid`` (bool) and off its own older paddles,
        turning by an angle drawn among those that fit, weighted by continuity. The
        ``last`` paddle also needs room for a marker at its far end, which it reserves."""
        canvas, cfg = self.canvas, self.canvas.config
        avoid = avoid | (self.old_halo > 0)
        if self.patches:
            weights = canvas.turn_weights.copy()
        else:  # the first paddle keeps the sampled heading
            weights = (canvas.turns == 0).astype(np.float64)
        headings = self.heading + canvas.turns
        candidates = np.flatnonzero(weights)
        weights[candidates[~self._may_fit(headings[candidates], avoid)]] = 0.0
        while (total := weights.sum()) > 1e-9:
            cumulative = np.cumsum(weights)
            choice = int(np.searchsorted(cumulative, rng.random() * total, "right"))
            choice = min(choice, N_TURNS - 1)
            direction = _unit(headings[choice])
            start = self.pivot + self.margin * direction
            end = start + cfg.paddle_length * direction
            patch = canvas.segment(start, end)
            marker = canvas.disc(end) if last else None
            fits = patch is not None and not canvas.hits(patch, avoid)
            if fits and (marker is None or not canvas.hits(marker, avoid)):
                self._add(patch, headings[choice], end)
                if marker is not None:
                    self.reserve(marker)
                return True
            weights[choice] = 0.0
        return False

    def _may_fit(self, headings: np.ndarray, avoid: np.ndarray) -> np.ndarray:
        """Cheap test of many candidates at once: the pixel nearest each point of a
        paddle is always drawn, so a paddle whose points fall on ``avoid`` or in the
        border cannot fit (the converse is checked on the drawn paddle)."""
        cfg = self.canvas.config
        pivot = self.pivot
        ys = np.rint(pivot[0] + np.sin(headings)[:, None] * self.along).astype(np.intp)
        xs = np.rint(pivot[1] + np.cos(headings)[:, None] * self.along).astype(np.intp)
        lo, hi = cfg.padding, cfg.image_size - cfg.padding
        inside = ((ys >= lo) & (ys < hi) & (xs >= lo) & (xs < hi)).all(axis=1)
        last = cfg.image_size - 1
        ys, xs = np.minimum(np.maximum(ys, 0), last), np.minimum(np.maximum(xs, 0), last)
        return inside & ~avoid[ys, xs].any(axis=1)

    def _add(self, patch: Patch, heading: float, end: np.ndarray) -> None:
        self.patches.append(patch)
        self.states.append((heading, end))
        self.heading = heading
        self.halo[patch.rows, patch.cols] += patch.halo
        if len(self.patches) > self.neighbours:
            old = self.patches[-1 - self.neighbours]
            self.old_halo[old.rows, old.cols] += old.halo

    def step_back(self) -> None:
        """Take back the last paddle (to leave a dead end)."""
        if len(self.patches) > self.neighbours:
            old = self.patches[-1 - self.neighbours]
            self.old_halo[old.rows, old.cols] -= old.halo
        patch = self.patches.pop()
        self.states.pop()
        self.halo[patch.rows, patch.cols] -= patch.halo
        self.heading = self.states[-1][0] if self.states else self.start_heading

    def reserve(self, patch: Patch) -> None:
        self.halo[patch.rows, patch.cols] += patch.halo

    def draw(self) -> None:
        for patch in self.patches:
            self.canvas.draw(patch)


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


def _unit(angle: float) -> np.ndarray:
    return np.array([math.sin(angle), math.cos(angle)])


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
        canvas.taken |= contour.halo > 0
    for _ in range(config.num_distractors):
        _add_distractor(canvas, rng, margin)
    first = int(rng.integers(2))
    other = first if label == 1 else 1 - first
    markers = (targets[first].tip, targets[other].end)
    for centre in markers:
        canvas.draw(canvas.disc(centre))
    (y0, x0), (y1, x1) = markers
    return PathfinderImage(canvas.pixels, label, ((float(y0), float(x0)), (float(y1), float(x1))))


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
    first = rng.uniform(lo, size - 1 - lo, size=2)
    second = first + cfg.seed_distance * _unit(rng.integers(360) * np.pi / 180)
    pair = [
        Contour(canvas, tip, rng.integers(-180, 180) * np.pi / 180, margin)
        for tip in (first, second)
    ]
    # Both tips of both targets keep a marker's room, whichever get the markers.
    for contour in pair:
        contour.reserve(canvas.disc(contour.tip))
    backtracks = 0
    while min(len(c.patches) for c in pair) < cfg.contour_length:
        me = 0 if len(pair[0].patches) <= len(pair[1].patches) else 1
        last = len(pair[me].patches) == cfg.contour_length - 1
        if pair[me].grow(rng, pair[1 - me].halo > 0, last):
            continue
        # Step back further the more often we were stuck: one paddle rarely leaves a
        # cul-de-sac.
        steps = min(1 + backtracks // 4, len(pair[me].patches) - 1)
        if backtracks == cfg.max_backtracks or steps < 1:
            return None
        for _ in range(steps):
            pair[me].step_back()
        backtracks += 1
    return pair[0], pair[1]


def _add_distractor(canvas: Canvas, rng: np.random.Generator, margin: float) -> None:
    """A short contour in free space; skipped after max_distractor_trials failures, as
    the original allows incomplete distractor sets."""
    cfg = canvas.config
    for _ in range(cfg.max_distractor_trials):
        free = np.flatnonzero(~canvas.taken)
        if free.size == 0:
            return
        y, x = divmod(int(free[rng.integers(free.size)]), cfg.image_size)
        heading = rng.integers(-180, 180) * np.pi / 180
        contour = Contour(canvas, np.array([y, x], dtype=np.float64), heading, margin)
        if all(contour.grow(rng, canvas.taken) for _ in range(cfg.distractor_length)):
            contour.draw()
            canvas.taken |= contour.halo > 0
            return
