"""The `orb` channel: ORB local features, many per frame, for copies that global signals miss.

Crops, picture-in-picture insets, captions and logos, and pans over a still change a frame's
global hash beyond recognition but keep most of its corners. Each reference frame stores up to
`features_reference` ORB descriptors (256-bit, Hamming) in a FAISS binary index; each query
frame's descriptors vote for the reference frames their nearest neighbours belong to, and a
reference frame with at least `min_votes` votes is a hit.

Votes say "these two frames share many corners", not "this is a copy": segments carried by this
channel alone are confirmed or refuted by geometric verification (RANSAC) before they can flag.
Weight-free. Storage: about `features_reference` x 32 bytes per reference frame.
"""

from __future__ import annotations

import cv2
import numpy as np
from pydantic import Field

from reference_index.experimental import FAR, limits
from reference_index.search import unique_sorted

from ..media.reader import frame_input
from ..settings import HASH_BITS, Configuration, Table
from .base import Candidate, Channel, Embeddings, Meaning, SearchFn


class ORBSettings(Table):
    """`[channels.orb]` (configs/default.toml says why each value)."""

    features_reference: int = Field(200, ge=1)
    features_query: int = Field(400, ge=1)
    query_grid: int = Field(4, ge=1)
    query_per_cell: int = Field(18, ge=0)
    query_mirror: bool = True
    mirror_min_ratio: float = Field(1.5, gt=0)
    max_descriptor_distance: int = Field(40, ge=0, le=HASH_BITS)
    neighbours: int = Field(3, ge=1)
    min_votes: int = Field(20, ge=1)
    votes_at_half_similarity: float = Field(40.0, gt=0)
    guided_min_matches: int = Field(8, ge=1)
    guided_ratio: float = Field(1.5, ge=1)


class ORBChannel(Channel):
    Settings = ORBSettings
    name = "orb"
    metric = "hamming"
    per_frame = "many"
    dim = 256
    batch_size = 32

    def __init__(self, config: Configuration):
        super().__init__(config)
        s = self.settings
        self.features_reference = int(s.features_reference)
        self.features_query = int(s.features_query)
        self.max_descriptor_distance = int(s.max_descriptor_distance)
        self.neighbours = int(s.neighbours)
        self.min_votes = int(s.min_votes)
        self.query_grid = int(s.query_grid)
        self.query_per_cell = int(s.query_per_cell)
        self.votes_at_half = float(s.votes_at_half_similarity)
        self.mirror = bool(s.query_mirror)
        self.mirror_ratio = float(s.mirror_min_ratio)

    # the statistic in words, its unit and what the channel sees, per language
    words = {
        "label": {"en": "ORB median votes", "ja": "ORB 投票数の中央値"},
        "unit": {"en": "votes", "ja": "票"},
        "description": {
            "en": "ORB local features (OpenCV): crops, picture-in-picture, captions and logos, and pans over "
                  "stills; a segment only this channel supports must pass geometric verification.",
            "ja": "ORB 局所特徴（OpenCV）：切り抜き、ピクチャーインピクチャー、字幕やロゴ、静止画上のパンを"
                  "検出します。この特徴だけが支える一致区間は、幾何学的検証を通らなければ採りません。",
        },
    }

    @classmethod
    def meaning(cls, config: Configuration) -> Meaning:
        return Meaning(
            name=cls.name,
            statistic="median_votes",
            higher_is_better=True,
            rules=(),  # votes alone never raise a level: geometric verification does
            needs_verification=True,
            resolution=0.5,  # votes are whole numbers
            worst=0.0,
            query_variants=2 if config.channels.of(cls.name, ORBSettings).query_mirror else 1,
            resemblance=False,
            words=cls.words,
        )

    EDGE = 15  # ORB's edge threshold and patch size, in pixels

    def _orb(self, n: int):
        # small patches and a low FAST threshold: drawn animation has flat colour and few corners
        return cv2.ORB.create(nfeatures=n, fastThreshold=10, edgeThreshold=self.EDGE, patchSize=self.EDGE)

    def identity(self) -> dict:
        return {
            "name": self.name,
            "algorithm": "ORB (OpenCV), fastThreshold 10, edgeThreshold 15, patchSize 15, on grayscale",
            "metric": self.metric,
            "dim": self.dim,
            "features_reference": self.features_reference,
            "input": frame_input(self.config),
            "opencv": cv2.__version__,
        }

    def _spread_keypoints(self, orb, gray: np.ndarray) -> tuple[list, np.ndarray | None]:
        """The `features_query` strongest corners, plus the strongest `query_per_cell` of each
        cell of a `query_grid` x `query_grid` grid, and their descriptors. Sharp caption text and
        logos win a global ranking of corners; the grid keeps the picture around them represented.
        (Every corner found is described in the same pass: describing only the chosen ones would
        build the image pyramid twice, which costs more.)"""
        kps, desc = orb.detectAndCompute(gray, None)
        if not kps or desc is None:
            return [], None
        order = np.argsort(-np.array([k.response for k in kps]), kind="stable")  # strongest first
        chosen = order[: self.features_query]
        if self.query_grid > 1 and self.query_per_cell > 0:
            h, w = gray.shape
            g = self.query_grid
            pts = np.asarray(cv2.KeyPoint.convert(kps), np.float64)  # what k.pt gives, in one call
            cell = np.minimum(g - 1, (pts[:, 1] * g / h).astype(int)) * g + np.minimum(g - 1, (pts[:, 0] * g / w).astype(int))
            room = np.maximum(0, self.query_per_cell - np.bincount(cell[chosen], minlength=g * g))
            rest = order[self.features_query :]
            by_cell = np.argsort(cell[rest], kind="stable")  # each cell's remaining corners, strongest first
            sorted_cells = cell[rest][by_cell]
            rank = np.empty(len(rest), np.int64)
            rank[by_cell] = np.arange(len(rest)) - np.searchsorted(sorted_cells, sorted_cells, "left")
            chosen = np.concatenate([chosen, rest[rank < room[cell[rest]]]])
        return [kps[i] for i in chosen], desc[chosen]

    def _describe(self, images: list[np.ndarray], n_features: int, spread: bool = False,
                  mirror: bool = False) -> list[Embeddings]:
        """Each image's descriptors; with `mirror`, also the mirrored image's, at the mirror images
        of the same corners (FAST and the corner ranking are symmetric, so detecting again on the
        mirrored image would find them again: describing them there is half the work)."""
        orb = self._orb(4 * n_features if spread else n_features)
        found: list[tuple[list, list]] = [([], []) for _ in range(2 if mirror else 1)]
        keep = [np.zeros(len(images), dtype=bool) for _ in found]
        for i, image in enumerate(images):
            if min(image.shape[:2]) <= 2 * self.EDGE:
                # no corner lies inside the border ORB leaves, and OpenCV's pyramid fails on a frame a
                # pixel thin: such a frame is unused by this channel, like a featureless one
                continue
            gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
            if spread:
                kps, desc = self._spread_keypoints(orb, gray)
            else:
                kps, desc = orb.detectAndCompute(gray, None)
            described = [desc]
            if mirror and desc is not None:
                w = gray.shape[1]  # x -> w - 1 - x; ORB's angle (degrees, y down) -> 180 - angle
                mirrored = [cv2.KeyPoint(w - 1 - k.pt[0], k.pt[1], k.size, (180.0 - k.angle) % 360.0, k.response, k.octave,
                                         k.class_id) for k in kps]
                described.append(orb.compute(cv2.flip(gray, 1), mirrored)[1])
            for (vectors, frame_of), kept, d in zip(found, keep, described):
                if d is None or len(d) < 8:
                    continue
                kept[i] = True
                vectors.append(d)
                frame_of.append(np.full(len(d), i, dtype=np.int64))
        out = []
        for (vectors, frame_of), kept in zip(found, keep):
            if vectors:
                out.append(Embeddings(np.concatenate(vectors), kept, None, None, np.concatenate(frame_of)))
            else:
                out.append(Embeddings(np.zeros((0, 32), np.uint8), kept, None, None, np.zeros(0, np.int64)))
        return out

    def embed_batch(self, images: list[np.ndarray]) -> Embeddings:
        return self._describe(images, self.features_reference)[0]

    def embed_query_batch(self, images: list[np.ndarray]) -> Embeddings:
        """The query's descriptors, and (with `query_mirror`) the mirrored query's: a mirrored
        inset, crop or captioned copy then votes for its reference frames like an unmirrored one."""
        described = self._describe(images, self.features_query, spread=True, mirror=self.mirror)
        if not self.mirror:
            return described[0]
        plain, flipped = described
        return Embeddings(
            np.concatenate([plain.vectors, flipped.vectors]), plain.keep | flipped.keep, None, None,
            np.concatenate([plain.frame_of, flipped.frame_of]),
            variant_of=np.concatenate([np.zeros(len(plain.vectors), np.int8), np.ones(len(flipped.vectors), np.int8)]),
        )

    @property
    def query_variant_names(self) -> tuple[str, ...]:
        return ("flip_horizontal",) if self.mirror else ()

    def candidates(self, emb: Embeddings, search: SearchFn, k: int) -> tuple[np.ndarray, list[list[Candidate]]]:
        """Votes for reference frames: a query descriptor votes once for every reference frame
        among its nearest neighbours within `max_descriptor_distance` bits (where the index keeps
        visual words: its nearest among a short list of frames the words give). With the mirrored
        query, each query frame takes the variant (as shot, or mirrored) whose best reference
        frame has more votes, the mirrored one only with `mirror_min_ratio` times the votes as
        shot, and only that variant's candidates: a copy is mirrored or not, and mixing the two
        would let symmetric scenery vote for the wrong moments. Ties in votes go to the lower
        frame id, so the ranking is the same on every machine. raw = votes."""
        rows = np.nonzero(emb.keep)[0]
        if len(emb.vectors) == 0:
            return rows, [[] for _ in rows]
        variant_of = emb.variant_of if emb.variant_of is not None else np.zeros(len(emb.vectors), np.int8)
        if getattr(search, "by_frame", False):
            per_variant = self._word_votes(emb, variant_of, rows, search, k)
        else:
            assert emb.frame_of is not None  # _describe gives every descriptor its frame
            dists, fids = search(emb.vectors, self.neighbours)  # every variant in one call (a sharded index asks every shard)
            per_variant = {}
            for v in np.unique(variant_of):
                sel = variant_of == v
                per_variant[int(v)] = self._descriptor_votes(dists[sel], fids[sel], emb.frame_of[sel], rows, k)
        names = ("original",) + self.query_variant_names
        per_variant.setdefault(0, [(np.zeros(0, np.int64), np.zeros(0))] * len(rows))  # no descriptor as shot
        ranked = []
        for i in range(len(rows)):
            best_plain = float(per_variant[0][i][1][0]) if len(per_variant[0][i][1]) else 0.0
            chosen, best = 0, best_plain
            for v, found in per_variant.items():
                top = float(found[i][1][0]) if len(found[i][1]) else 0.0
                # a variant replaces the frame as shot only when it clearly wins: symmetric scenery
                # votes for the mirrored frame almost as well, a mirrored copy far better
                if v and top > best and top >= self.mirror_ratio * best_plain:
                    chosen, best = v, top
            fids, votes = per_variant[chosen][i]
            ranked.append([(int(f), float(n), names[chosen]) for f, n in zip(fids[:k], votes[:k])])
        return rows, ranked

    def _word_votes(self, emb: Embeddings, variant_of: np.ndarray, rows: np.ndarray, search, k: int) -> dict:
        """Votes per variant from visual words. The mirrored variant's short list costs little,
        its votes as much as the frame's: they are counted only where its short list scores at
        least as well as the frame as shot (a mirrored copy's does, far better). A descriptor's votes
        come from no farther than its nearest competitor the index keeps (reference_index.experimental.competition),
        looked up for the descriptors of frames whose votes are counted. Every variant goes to the
        index in the same call of each step (variant v's frame f as row v * frames + f): a sharded
        index sends each call to every shard."""
        n = len(emb.keep)
        variants = [int(v) for v in np.unique(variant_of)]
        key = variant_of.astype(np.int64) * n + np.asarray(emb.frame_of, np.int64)
        every = np.concatenate([rows + v * n for v in variants])
        found = search.shortlists(emb.vectors, key, every)
        score = {v: np.array([s[1] for s in found[i * len(rows):(i + 1) * len(rows)]]) for i, v in enumerate(variants)}
        plain = score.get(0, np.zeros(len(rows)))
        wanted = np.concatenate([np.ones(len(rows), bool) if v == 0 else score[v] >= plain for v in variants])
        counted = np.isin(key, every[wanted])
        near = None
        if counted.any() and (nearest := search.nearest_competitors(emb.vectors[counted])) is not None:
            near = np.full(len(key), FAR, np.int64)  # frames whose votes are not counted: any limit will do
            near[counted] = nearest
        votes = search.votes(emb.vectors, key, every, found, k, limits(self.max_descriptor_distance, near),
                             None if wanted.all() else wanted)
        return {v: votes[i * len(rows):(i + 1) * len(rows)] for i, v in enumerate(variants)}

    def _descriptor_votes(self, dists: np.ndarray, fids: np.ndarray, frame_of: np.ndarray, rows: np.ndarray,
                          k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per query frame of `rows`: (reference frame ids, votes), most votes first (ties: lower id),
        from its descriptors' nearest reference descriptors (`dists`, `fids`: a row a descriptor)."""
        empty = (np.zeros(0, np.int64), np.zeros(0, np.float64))
        if not len(dists):
            return [empty] * len(rows)
        q, nb = np.nonzero((dists <= self.max_descriptor_distance) & (fids >= 0))
        # pairs as one int64 key each (row-wise np.unique is several times slower on these sizes)
        span = int(fids.max()) + 1 if fids.size else 1
        votes = unique_sorted(q.astype(np.int64) * span + fids[q, nb])  # one vote per descriptor and reference frame
        keys, counts = np.unique(frame_of[votes // span].astype(np.int64) * span + votes % span, return_counts=True)
        pairs = np.stack([keys // span, keys % span], axis=1)
        order = np.lexsort((pairs[:, 1], -counts, pairs[:, 0]))  # query frame, most votes, reference frame
        pairs, counts = pairs[order], counts[order]
        starts = np.searchsorted(pairs[:, 0], rows, "left")
        ends = np.searchsorted(pairs[:, 0], rows, "right")
        return [(pairs[a:b, 1][:k], counts[a:b][:k].astype(np.float64)) for a, b in zip(starts, ends)]

    compares_directly = True

    def compare(self, query: Embeddings, frame: int, variant: str, ref_vectors: np.ndarray, ref_rows: np.ndarray,
                n_ref: int) -> np.ndarray | None:
        """Per reference frame: how many of the query frame's descriptors (as `variant`: as shot or
        mirrored) have a descriptor of that frame within `max_descriptor_distance` bits."""
        assert query.frame_of is not None  # _describe gives every descriptor its frame
        v = 1 if variant == "flip_horizontal" and self.mirror else 0
        mine = (query.frame_of == frame) & ((query.variant_of == v) if query.variant_of is not None else True)
        q = np.ascontiguousarray(query.vectors[mine])
        out = np.zeros(n_ref)
        if not len(q) or not len(ref_vectors):
            return out
        ref_rows = np.asarray(ref_rows)
        for j in np.unique(ref_rows):
            r = np.ascontiguousarray(ref_vectors[ref_rows == j])
            nearest, _ = cv2.batchDistance(q, r, cv2.CV_32S, normType=cv2.NORM_HAMMING, K=1)
            out[j] = int((nearest <= self.max_descriptor_distance).sum())
        return out

    def beats(self, on: float, off: float) -> bool:
        s = self.settings
        return on >= int(s.guided_min_matches) and on >= float(s.guided_ratio) * off

    def similarity(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=np.float32)
        return raw / (raw + self.votes_at_half)

    def is_hit(self, raw: np.ndarray) -> np.ndarray:
        return np.asarray(raw) >= self.min_votes
