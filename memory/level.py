"""A level: macs that share one configuration, their binary weights and the CSA step.

Every mac of a level has receptive fields of the same size, so the level's weights are
arrays (macs, rf, Q·K) of binary weights, stored as packed bits (eight cells a byte,
:func:`memory.csa.pack_weights`), and one CSA step is vectorised across its macs.
After Rinkus (2014, Frontiers in Computational Neuroscience 8:160, Table 1): U inputs
come from the level below at this frame, H inputs from this level's own macs at the
previous frame, D inputs from the level above at the previous frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memory import csa
from memory.config import LevelConfig

__all__ = ["WEIGHTS_FORMAT", "Level", "LevelStep", "codes_to_cells"]

_KINDS = ("u", "h", "d")
#: version of the saved weights: 2 = packed little-endian bits (cell c: byte c // 8, bit c % 8)
WEIGHTS_FORMAT = 2


@dataclass(frozen=True)
class LevelStep:
    """What a level did with one frame.

    Attributes:
        codes: winner per CM, -1 for macs that were not active. (macs, Q) int16.
        g: global familiarity of each mac (NaN where not active). (macs,)
        active: which macs had enough U input to be active. (macs,) bool.
        learned: which macs changed their weights. (macs,) bool.
    """

    codes: np.ndarray
    g: np.ndarray
    active: np.ndarray
    learned: np.ndarray


def codes_to_cells(codes: np.ndarray, cells_per_cm: int) -> np.ndarray:
    """Binary cell activity from codes (-1 = silent mac).

    Shapes:
        codes: (..., Q) → (..., Q·K) bool.
    """
    cells = np.zeros((*codes.shape, cells_per_cm), dtype=bool)
    on = codes >= 0
    np.put_along_axis(cells, np.where(on, codes, 0)[..., None].astype(np.intp), on[..., None], axis=-1)
    return cells.reshape(*codes.shape[:-1], -1)


class Level:
    """The macs of one level with their U, H and D weights.

    Args:
        config: the level's configuration.
        u_index: for every mac, the indices of its U inputs in the level below's binary
            vector. (macs, rf_u) int.
        h_index: the indices of its H inputs in this level's cell vector, or None.
        d_index: the indices of its D inputs in the level above's cell vector, or None.
    """

    def __init__(
        self,
        config: LevelConfig,
        u_index: np.ndarray,
        h_index: np.ndarray | None = None,
        d_index: np.ndarray | None = None,
    ) -> None:
        self.config = config
        self.csa = config.csa
        cells = self.csa.cells
        self.index = {"u": np.asarray(u_index, dtype=np.intp), "h": h_index, "d": d_index}
        self.weights = {
            kind: np.zeros((index.shape[0], index.shape[1], -(-cells // 8)), dtype=np.uint8)
            for kind, index in self.index.items()
            if index is not None
        }
        self.set_count = np.zeros(config.n_macs, dtype=np.int64)
        self.fanin = np.zeros((config.n_macs, cells), dtype=np.int64)
        self.frozen = np.zeros(config.n_macs, dtype=bool)

    # ------------------------------------------------------------------ state

    @property
    def synapses(self) -> int:
        """The number of U synapses (binary weights) of the level: macs × rf × Q·K."""
        macs, rf, _ = self.weights["u"].shape
        return macs * rf * self.csa.cells

    @property
    def weight_bytes(self) -> int:
        """Bytes held by the level's packed weights (all kinds)."""
        return int(sum(w.nbytes for w in self.weights.values()))

    def fill(self) -> np.ndarray:
        """Fraction of each mac's U weights that are set. (macs,)"""
        return self.set_count / (self.weights["u"].shape[1] * self.csa.cells)

    def dense_weights(self, kind: str = "u") -> np.ndarray:
        """One kind's weights as booleans (for inspection and tests). (macs, rf, Q·K) bool"""
        return csa.unpack_weights(self.weights[kind], self.csa.cells)

    # ------------------------------------------------------------------ state

    def state_dict(self) -> dict[str, np.ndarray]:
        """Weights (packed bits, :data:`WEIGHTS_FORMAT`) and freezing state, for :func:`memory.persist.save_arrays`."""
        state = {f"w_{kind}": w.copy() for kind, w in self.weights.items()}
        state["weights_format"] = np.array(WEIGHTS_FORMAT)
        state["set_count"] = self.set_count.copy()
        state["fanin"] = self.fanin.copy()
        state["frozen"] = self.frozen.copy()
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state_dict`; shapes, types and counts must fit this level's configuration.

        Files without ``weights_format`` hold the weights packed the older way (numpy's
        default big-endian bit order) and are repacked.

        Raises:
            KeyError: a missing array.
            ValueError: an array of the wrong shape or type, or counts that contradict
                the weights.
        """
        cells = self.csa.cells
        legacy = "weights_format" not in state
        if not legacy and int(np.asarray(state["weights_format"])) != WEIGHTS_FORMAT:
            raise ValueError(f"weights_format: expected {WEIGHTS_FORMAT}, found {state['weights_format']}")
        weights = {}
        for kind, w in self.weights.items():
            packed = np.asarray(state[f"w_{kind}"])
            if packed.dtype != np.uint8 or packed.shape != w.shape:
                raise ValueError(
                    f"weights w_{kind}: expected uint8 of shape {w.shape}, found {packed.dtype} {packed.shape}"
                )
            if legacy:
                packed = csa.pack_weights(np.unpackbits(packed, axis=-1, count=cells).astype(bool))
            elif cells % 8 and (packed[..., -1] >> (cells % 8)).any():
                raise ValueError(f"weights w_{kind}: bits set beyond the {cells} cells")
            weights[kind] = np.ascontiguousarray(packed)
        counts = {}
        for key, shape in (
            ("set_count", self.set_count.shape),
            ("fanin", self.fanin.shape),
            ("frozen", self.frozen.shape),
        ):
            value = np.asarray(state[key])
            if value.shape != shape:
                raise ValueError(f"{key}: expected shape {shape}, found {value.shape}")
            if key != "frozen" and (value.dtype.kind not in "iu" or (value < 0).any()):
                raise ValueError(f"{key}: expected non-negative integers, found {value.dtype} values")
            counts[key] = value
        set_bits = np.bitwise_count(weights["u"]).reshape(len(self.set_count), -1).sum(axis=1, dtype=np.int64)
        if not np.array_equal(set_bits, counts["set_count"]):
            raise ValueError(
                f"set_count: expected the set U weights per mac {set_bits.tolist()}, found {counts['set_count'].tolist()}"
            )
        self.weights = weights
        self.set_count = counts["set_count"].astype(np.int64)
        self.fanin = counts["fanin"].astype(np.int64)
        self.frozen = counts["frozen"].astype(bool)

    # ------------------------------------------------------------------ CSA

    def _gather(self, sources: dict[str, np.ndarray | None]) -> dict[str, np.ndarray]:
        """Each kind's active inputs per mac, (macs, rf_kind) bool, for the kinds given."""
        return {
            kind: source[self.index[kind]]
            for kind, source in sources.items()
            if source is not None and kind in self.weights
        }

    def _terms(self, active: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Normalised sums (macs, Q, K) and presence (macs,) of every kind."""
        q, k = self.csa.cms, self.csa.cells_per_cm
        terms, present = {}, {}
        for kind, on in active.items():
            count = on.sum(axis=1)
            sums = csa.input_sums(on, self.weights[kind], self.csa.cells)
            denominator = np.maximum(count, 1)[:, None]
            if kind == "u" and self.csa.normalise == "max":
                denominator = np.maximum(denominator, self.fanin)
            terms[kind] = (sums / denominator).reshape(-1, q, k)
            present[kind] = count > 0
        return terms, present

    def step(
        self,
        u_source: np.ndarray,
        h_source: np.ndarray | None = None,
        d_source: np.ndarray | None = None,
        *,
        learn: bool,
        rng: np.random.Generator,
        backoff_threshold: float = 0.9,
        u_fallback: bool = True,
    ) -> LevelStep:
        """One CSA step of every mac, with learning or recognition.

        Learning (Rinkus 2014, Table 1): V is the product of the terms present, winners
        are drawn from μ, and the weights from the active inputs to the winners are set
        (single-trial binary Hebbian learning) unless the mac is frozen. Recognition:
        the cell of largest V wins; a mac whose G with all terms is below
        ``backoff_threshold`` backs off to the better of HU and UD, then to U alone
        (unless ``u_fallback`` is False).

        Args:
            u_source: binary vector of the level below (the image for level 0).
            h_source: this level's cells at the previous frame, or None.
            d_source: the level above's cells at the previous frame, or None.
            learn: learning (sampling, weight updates) or recognition (argmax).
            rng: the model's random generator.
            backoff_threshold: G below which recognition backs off.
            u_fallback: whether recognition may back off to U alone.

        Returns:
            A :class:`LevelStep`.
        """
        active_inputs = self._gather({"u": u_source, "h": h_source, "d": d_source})
        terms, present = self._terms(active_inputs)
        u_count = active_inputs["u"].sum(axis=1)
        active = u_count >= max(self.csa.min_active, 1)
        if self.csa.max_active:
            active &= u_count <= self.csa.max_active
        one = np.ones(1)
        factor = {
            kind: np.where(present[kind][:, None, None], terms[kind], one) for kind in ("h", "d") if kind in terms
        }
        v_all = csa.familiarity([terms["u"], *factor.values()])
        g_all = csa.global_familiarity(v_all)
        if learn:
            eta = csa.expansivity(g_all, self.csa)
            codes = csa.sample_winners(csa.choice_weights(v_all, eta, self.csa), rng)
            g = g_all
        else:
            v, g = self._backoff(terms["u"], factor, v_all, g_all, backoff_threshold, u_fallback)
            codes = csa.best_winners(v)
        codes = np.where(active[:, None], codes, -1).astype(np.int16)
        learned = np.zeros_like(active)
        if learn:
            learned = active & ~self.frozen
            self._learn(active_inputs, codes, learned)
        return LevelStep(codes=codes, g=np.where(active, g, np.nan), active=active, learned=learned)

    def _backoff(self, u, factor, v_all, g_all, threshold, u_fallback):
        """Recognition's back-off HUD → HU / UD → U, chosen per mac."""
        v, g = v_all, g_all
        low = g < threshold
        if len(factor) == 2 and low.any():
            v_hu = csa.familiarity([u, factor["h"]])
            v_ud = csa.familiarity([u, factor["d"]])
            g_hu, g_ud = csa.global_familiarity(v_hu), csa.global_familiarity(v_ud)
            pick = g_hu >= g_ud
            v_pair = np.where(pick[:, None, None], v_hu, v_ud)
            g_pair = np.maximum(g_hu, g_ud)
            better = low & (g_pair > g)
            v = np.where(better[:, None, None], v_pair, v)
            g = np.where(better, g_pair, g)
            low = g < threshold
        if factor and u_fallback and low.any():
            g_u = csa.global_familiarity(u)
            v = np.where(low[:, None, None], u, v)
            g = np.where(low, g_u, g)
        return v, g

    def _learn(self, active_inputs: dict[str, np.ndarray], codes: np.ndarray, learned: np.ndarray) -> None:
        """Set the weights from active inputs to the winners of the learning macs (packed bits)."""
        k = self.csa.cells_per_cm
        cell_of_winner = codes.astype(np.intp) + np.arange(self.csa.cms) * k
        for kind, on in active_inputs.items():
            mac_index, input_index = np.nonzero(on & learned[:, None])
            if mac_index.size == 0:
                continue
            cells = cell_of_winner[mac_index]
            rows = (mac_index[:, None], input_index[:, None], cells >> 3)
            bits = (1 << (cells & 7)).astype(np.uint8)
            weights = self.weights[kind]
            if kind == "u":
                fresh = (weights[rows] & bits) == 0
                self.set_count += np.bincount(mac_index, weights=fresh.sum(axis=1), minlength=len(learned)).astype(
                    np.int64
                )
                np.add.at(self.fanin, (mac_index[:, None], cells), fresh)
            if k % 8 == 0:  # every module owns whole bytes: the Q winners of a row touch distinct bytes
                weights[rows] |= bits
            else:
                np.bitwise_or.at(weights, rows, bits)
        size = self.weights["u"].shape[1] * self.csa.cells
        self.frozen |= self.set_count >= self.csa.freeze_fraction * size
