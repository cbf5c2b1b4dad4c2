"""Prune-and-regrow mask updates for dynamic sparse training at a constant parameter budget.

Every ``update_every`` steps the ``k`` active weights of smallest magnitude are dropped and
``k`` inactive positions are regrown, so the number of non-zeros never changes:

- SET (Mocanu et al. 2018, "Scalable training of artificial neural networks with adaptive
  sparse connectivity inspired by network science", Nature Communications): regrowth at
  random positions (``regrowth="random"``).
- RigL (Evci et al. 2020, "Rigging the Lottery: Making All Tickets Winners", ICML, sec. 3):
  regrowth where the dense gradient ``|dL/dW|`` is largest (``regrowth="gradient"``), with
  the update fraction decayed by a cosine, ``f(t) = alpha/2 (1 + cos(pi t / T_end))``.
- DSL (Wang et al. 2024, "Dynamic Sparse Learning: A Novel Paradigm for Efficient
  Recommendation", WSDM): the same gradient regrowth, per tensor, on embedding tables.

Regrown weights start at exactly zero (RigL's choice, used here for SET as well, so that
a regrown connection does not change the function until it is trained), and by default so
do their optimizer moments. Only weights inactive before an update and active after it
are regrown in this sense: a weight dropped and regrown by the same update, like every
weight of a tensor whose mask the update leaves unchanged, keeps its value and moments
(RigL's reference code, ``reinit_when_same=False``). ``k`` is
``ceil(fraction * active)`` as in the DSL reference code, so small fractions still move
at least one weight.

Cost of an update: a partial selection (``torch.topk``) among the active weights for the
drop and among the inactive ones for the regrowth, never a sort of the table; the masks,
the weights, the optimizer moments and the ever-active masks are then edited in place at
the ``2 k`` positions that move only.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import logging
import math
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from sparse_core.masks import Mask, MaskParametrization, masked_parameters
from sparse_core.pruning import largest_indices, smallest_indices
from sparse_core.schedules import cosine_decay, is_update_step, linear_decay

__all__ = ["DynamicSparseConfig", "DynamicSparseUpdater", "drop_and_regrow", "replacement_count"]

logger = logging.getLogger(__name__)

_ALL = "all"  # key of the single flattened tensor used for a global budget


@dataclass(frozen=True, kw_only=True)
class DynamicSparseConfig:
    """How and when masks change during dynamic sparse training.

    Args:
        regrowth: "random" (SET) or "gradient" (RigL, DSL).
        update_every: Steps between mask updates (RigL's delta T).
        end_step: Last step on which masks may change (RigL's T_end, e.g. 75% of training).
        initial_fraction: Fraction of the active weights replaced at the first update
            (RigL's alpha; DSL uses 0.5).
        start_step: Updates happen at ``start_step + j * update_every`` for ``j >= 1``.
        decay: How the fraction decays to 0 at ``end_step``: "cosine" (RigL) or "linear".
        budget: "per_tensor" keeps every tensor's number of non-zeros; "global" keeps only
            the total, comparing magnitudes and gradients across tensors.
        mask_optimizer_moments: After an update, zero the optimizer's per-weight state
            (Adam's exp_avg / exp_avg_sq, SGD's momentum_buffer, ...) wherever a weight is
            not active both before and after (dropped, newly regrown or inactive), so
            regrown weights start with fresh moments. On by default; turn it off to keep
            the optimizer state untouched.
    """

    regrowth: Literal["random", "gradient"]
    update_every: int
    end_step: int
    initial_fraction: float = 0.3
    start_step: int = 0
    decay: Literal["cosine", "linear"] = "cosine"
    budget: Literal["per_tensor", "global"] = "per_tensor"
    mask_optimizer_moments: bool = True

    def __post_init__(self) -> None:
        choices = {
            "regrowth": ("random", "gradient"),
            "decay": ("cosine", "linear"),
            "budget": ("per_tensor", "global"),
        }
        for field, allowed in choices.items():
            if getattr(self, field) not in allowed:
                raise ValueError(f"DynamicSparseConfig.{field} must be one of {allowed}, got {getattr(self, field)!r}")
        if self.update_every < 1:
            raise ValueError(f"DynamicSparseConfig.update_every must be >= 1, got {self.update_every}")
        if not 0.0 <= self.initial_fraction <= 1.0:
            raise ValueError(f"DynamicSparseConfig.initial_fraction must lie in [0, 1], got {self.initial_fraction}")
        if self.end_step < self.start_step:
            raise ValueError(f"DynamicSparseConfig.end_step ({self.end_step}) is before start_step ({self.start_step})")

    def update_fraction(self, step: int) -> float:
        """The fraction of active weights replaced at ``step`` (cosine or linear decay)."""
        decay = cosine_decay if self.decay == "cosine" else linear_decay
        return decay(step, self.initial_fraction, self.end_step, self.start_step)


def replacement_count(fraction: float, active: int) -> int:
    """``ceil(fraction * active)``, robust to floating error, at most ``active``."""
    return min(active, math.ceil(round(fraction * active, 9)))


def drop_and_regrow(
    magnitudes: Mapping[str, Tensor],
    grow_scores: Mapping[str, Tensor],
    mask: Mask,
    fraction: float,
    budget: Literal["per_tensor", "global"] = "per_tensor",
) -> tuple[Mask, Mask]:
    """One prune-and-regrow decision (Evci et al. 2020, sec. 3 and Algorithm 1).

    Drops the ``k = ceil(fraction * active)`` active entries of smallest magnitude and
    regrows the ``k`` entries with the largest grow score among those inactive after the
    drop (a just-dropped entry may be regrown). Ties go to the lower flat index: the kept
    entries are the first ``active - k`` of a stable descending sort of the active
    magnitudes, the regrown ones the first ``k`` of the candidates' scores, found by
    partial selection (`sparse_core.pruning.largest_indices`).

    Args:
        magnitudes: Name -> ``|w|`` (only active entries are compared).
        grow_scores: Name -> regrowth score, e.g. ``|dL/dW|`` (RigL) or uniform noise (SET).
        mask: The current mask; its names choose the tensors.
        fraction: Fraction of active weights to replace, in [0, 1].
        budget: "per_tensor" (``k`` per tensor) or "global" (one ``k`` over all tensors).

    Returns:
        ``(new_mask, regrown)``: the new mask, with the same number of non-zeros per tensor
        (or in total), and the entries chosen for regrowth (including any just dropped and
        regrown; the newly active entries are ``new_mask & ~mask``).

    Raises:
        ValueError: If a magnitude of an active entry or a grow score is NaN.

    Shapes:
        - every tensor: the shape of its parameter.
    """
    if budget == "global":
        names = list(mask)
        flat_mask = Mask({_ALL: torch.cat([mask[n].reshape(-1) for n in names])})
        flat_magnitudes = {_ALL: torch.cat([magnitudes[n].reshape(-1).to(flat_mask[_ALL].device) for n in names])}
        flat_scores = {_ALL: torch.cat([grow_scores[n].reshape(-1).to(flat_mask[_ALL].device) for n in names])}
        flat_new, flat_grown = drop_and_regrow(flat_magnitudes, flat_scores, flat_mask, fraction, "per_tensor")
        sizes = [mask[n].numel() for n in names]
        split = lambda flat: {  # noqa: E731
            n: part.reshape(mask[n].shape) for n, part in zip(names, torch.split(flat[_ALL], sizes))
        }
        return Mask(split(flat_new)), Mask(split(flat_grown))
    new_mask, regrown = {}, {}
    for name, keep in mask.items():
        flat_keep = keep.reshape(-1)
        moved = replacement_count(fraction, int(flat_keep.sum()))
        dropped, grown = _drop_and_regrow_flat(
            magnitudes[name].reshape(-1).to(keep.device),
            grow_scores[name].reshape(-1).to(keep.device),
            flat_keep,
            moved,
            name,
        )
        new_flat = flat_keep.clone()
        new_flat[dropped] = False
        new_flat[grown] = True
        grown_flat = torch.zeros_like(flat_keep)
        grown_flat[grown] = True
        new_mask[name], regrown[name] = new_flat.reshape(keep.shape), grown_flat.reshape(keep.shape)
    return Mask(new_mask), Mask(regrown)


def _drop_and_regrow_flat(
    magnitudes: Tensor, grow_scores: Tensor, mask: Tensor, moved: int, name: str, absolute: bool = False
) -> tuple[Tensor, Tensor]:
    """Flat positions ``(dropped, grown)`` of one prune-and-regrow of ``moved`` weights; ``mask`` is not changed.

    With ``absolute``, ``magnitudes`` holds the signed weights and only the active ones are
    made absolute (no copy of the whole table).

    Shapes:
        - magnitudes, grow_scores, mask: ``(n,)``; dropped, grown: ``(moved,)`` int64.
    """
    active = mask.nonzero().squeeze(1)
    active_magnitudes = magnitudes[active].abs() if absolute else magnitudes[active]
    if torch.isnan(active_magnitudes).any():
        raise ValueError(f"magnitudes of {name!r} contain NaN; prune-and-regrow needs finite weights")
    dropped = active[smallest_indices(active_magnitudes, moved)]
    if not grow_scores.is_floating_point():
        grow_scores = grow_scores.to(torch.float64)
    if torch.isnan(grow_scores).any():
        raise ValueError(f"grow scores of {name!r} contain NaN")
    eligible = ~mask
    eligible[dropped] = True
    # The non-candidates score -inf, so one selection over the whole table picks among the candidates only,
    # unless a candidate itself scores -inf: then select among the gathered candidates.
    candidate_scores = torch.where(eligible, grow_scores, -math.inf)
    grown = largest_indices(candidate_scores, moved)
    if moved and candidate_scores[grown].min() == -math.inf:
        candidates = eligible.nonzero().squeeze(1)
        grown = candidates[largest_indices(grow_scores[candidates], moved)]
    return dropped, grown


def _put_(tensor: Tensor, positions: Tensor, value: float | bool) -> None:
    """``tensor.reshape(-1)[positions] = value`` in place, also for a non-contiguous tensor."""
    if tensor.is_contiguous():
        tensor.view(-1).index_fill_(0, positions.to(tensor.device), value)
    else:
        tensor[torch.unravel_index(positions.to(tensor.device), tensor.shape)] = value


def _take(tensor: Tensor, positions: Tensor) -> Tensor:
    """``tensor.reshape(-1)[positions]`` without copying a contiguous tensor."""
    return tensor.reshape(-1)[positions.to(tensor.device)]


class DynamicSparseUpdater:
    """Changes the masks of a masked model during training, keeping the number of non-zeros.

    Call `step` once per training step, after ``optimizer.step()`` and before
    ``optimizer.zero_grad()``::

        apply_mask(model, random_mask(model, 0.1, generator))
        optimizer = torch.optim.Adam(model.parameters())
        updater = DynamicSparseUpdater(model, optimizer, DynamicSparseConfig(regrowth="gradient", ...))
        for step in range(1, steps + 1):
            loss_fn(model(x), y).backward()
            optimizer.step()
            updater.step(step)
            optimizer.zero_grad()

    Dense gradients: under ``torch.nn.utils.parametrize`` the gradient of the trained
    ``original`` is zero at masked entries, so it cannot rank inactive positions. For
    gradient regrowth the updater registers a forward hook on every `MaskParametrization`
    that attaches a gradient hook to the effective weight, and sums ``dL/dW_effective``
    over all uses since the previous `step` (so gradient accumulation and weight sharing
    work). This costs one parameter-sized tensor per masked parameter. Tables read through
    `sparse_core.masks.embedding_lookup` (row-sparse gradients) are captured from the rows
    they look up instead: each captured backward keeps its ``(ids, dL/dW_effective rows)``
    and the table-sized score is built once, by ``index_add_``, at the update. The sums are
    cleared by every `step`; checkpoint between steps. Only the gradients an update will
    use are captured: ``step(t)`` arms the capture for the backward passes before
    ``step(t + 1)`` if ``t + 1`` is an update step, so pass consecutive step numbers (a new
    or resumed updater captures until its first `step`).

    Copies: the forward hooks stay with the model, so ``copy.deepcopy(model)`` copies them
    too; a copied hook is inert, so training a copy never feeds this updater. Deep-copying
    the updater (alone, or with its model and optimizer in one ``copy.deepcopy`` call)
    gives an updater of the copied model whose hooks feed the copy.

    Args:
        model: A model with masks applied by `sparse_core.masks.apply_mask`.
        optimizer: The optimizer training ``model`` (its per-weight state is zeroed where
            weights are dropped or regrown when ``config.mask_optimizer_moments``).
        config: When and how masks change.
        generator: CPU random generator for random regrowth; by default one seeded from
            torch's global generator. Its state is part of `state_dict`.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        config: DynamicSparseConfig,
        generator: torch.Generator | None = None,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.config = config
        self._masked = masked_parameters(model)
        if not self._masked:
            raise ValueError(
                "DynamicSparseUpdater needs a masked model, found no masked parameters; "
                "call sparse_core.masks.apply_mask(model, mask) first"
            )
        if generator is None:
            generator = torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,)).item()))
        self.generator = generator
        self.ever_active = {name: mask.detach().clone() for name, (_, mask) in self._masked.items()}
        self.updates_done = 0
        self._dense_gradients: dict[str, Tensor] = {}
        self._row_gradients: dict[str, list[tuple[Tensor, Tensor]]] = {}  # captured sparse lookups
        self._capture = True  # whether the backward passes before the next step() are recorded
        self._clean = False  # whether every inactive weight and moment is known to be zero (see step())
        self._hook_handles: list = []
        self._register_gradient_hooks()

    def _register_gradient_hooks(self) -> None:
        if self.config.regrowth != "gradient":
            return
        for name in self._masked:
            module_path, _, attr = name.rpartition(".")
            module = self.model.get_submodule(module_path)
            for parametrization in module.parametrizations[attr]:
                if isinstance(parametrization, MaskParametrization):
                    capture = _GradientCapture(self, name, parametrization)
                    self._hook_handles.append(parametrization.register_forward_hook(capture))
                    self._hook_handles.append(parametrization.register_lookup_hook(capture.lookup))

    def __deepcopy__(self, memo: dict) -> DynamicSparseUpdater:
        """A copy driving the copied model (and optimizer), with its own gradient hooks."""
        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        for key, value in vars(self).items():
            setattr(clone, key, copy.deepcopy(value, memo))
        for handle in clone._hook_handles:  # they point at the copied model's inert hooks
            handle.remove()
        clone._hook_handles = []
        clone._register_gradient_hooks()
        return clone

    def _accumulate(self, name: str, gradient: Tensor) -> None:
        if name in self._dense_gradients:
            self._dense_gradients[name] += gradient.detach()
        else:
            self._dense_gradients[name] = gradient.detach().clone()

    def _accumulate_rows(self, name: str, ids: Tensor, gradient: Tensor) -> None:
        self._row_gradients.setdefault(name, []).append((ids.detach().reshape(-1), gradient.detach()))

    def _captured_gradients(self) -> dict[str, Tensor]:
        """Takes the captured gradients since the previous step: name -> dense ``dL/dW_effective``.

        Row-sparse captures are summed into a table-sized tensor here, once per update (the
        dense sum of the whole-table captures, if any, is the starting point).
        """
        dense, self._dense_gradients = self._dense_gradients, {}
        rows, self._row_gradients = self._row_gradients, {}
        for name, pieces in rows.items():
            original = self._masked[name][0]
            total = dense.get(name)
            if total is None:
                total = torch.zeros_like(original, memory_format=torch.contiguous_format)
            flat = total.view(original.shape[0], -1)
            for ids, gradient in pieces:
                flat.index_add_(0, ids.to(flat.device), gradient.reshape(ids.numel(), -1).to(flat.dtype))
            dense[name] = total
        return dense

    def close(self) -> None:
        """Removes the gradient hooks from the model (the updater can no longer regrow by gradient)."""
        for handle in self._hook_handles:
            handle.remove()
        self._hook_handles.clear()

    def _grow_scores(self, dense_gradients: Mapping[str, Tensor]) -> dict[str, Tensor]:
        if self.config.regrowth == "random":
            return {
                name: torch.rand(mask.shape, generator=self.generator).to(mask.device)
                for name, (_, mask) in self._masked.items()
            }
        missing = [name for name in self._masked if name not in dense_gradients]
        if missing:
            raise RuntimeError(
                f"gradient regrowth found no gradient for {missing} since the previous step(); "
                "call updater.step(step) after loss.backward() and optimizer.step(), once per training step"
            )
        return {name: dense_gradients[name].abs() for name in self._masked}

    def step(self, step: int) -> bool:
        """Updates the masks if ``step`` is an update step.

        Only the positions that move are written: the masks, ``original`` (dropped and newly
        regrown weights set to zero), the optimizer's per-weight state there (with
        ``config.mask_optimizer_moments``) and the ever-active masks. Every other inactive
        weight and moment is already zero (its gradient is zero and so, once masked, are its
        moments), which the first update of an updater (new or restored by
        `load_state_dict`) makes sure of with one pass over the tables; with
        ``mask_optimizer_moments=False`` moments keep moving masked weights, so every update
        zeroes all inactive weights.

        Args:
            step: The training step just completed (as counted by the schedule).

        Returns:
            True if the masks were updated at this step.

        Raises:
            RuntimeError: If gradient regrowth has no dense gradient, or (a bug) the
                number of non-zeros changed.
        """
        config = self.config
        update = is_update_step(step, config.update_every, config.start_step, config.end_step)
        if not update:  # captured for nothing (a new updater captures until its first step)
            self._dense_gradients, self._row_gradients = {}, {}
        dense_gradients = self._captured_gradients()
        self._capture = config.regrowth == "gradient" and is_update_step(
            step + 1, config.update_every, config.start_step, config.end_step
        )
        if not update:
            return False
        grow_scores = self._grow_scores(dense_gradients)
        fraction = config.update_fraction(step)
        moves = self._choose_moves(grow_scores, fraction)
        self._check_budget(moves, step)
        moved = self._move(moves)
        self.updates_done += 1
        self._log(step, fraction, moved)
        return True

    def _choose_moves(self, grow_scores: Mapping[str, Tensor], fraction: float) -> dict[str, tuple[Tensor, Tensor]]:
        """Name -> flat positions ``(dropped, grown)`` of this update (see `drop_and_regrow`)."""
        masked = self._masked
        if self.config.budget == "per_tensor":
            moves = {}
            for name, (original, mask) in masked.items():
                flat_mask = mask.reshape(-1)
                moved = replacement_count(fraction, int(flat_mask.sum()))
                weights = original.detach().reshape(-1)
                moves[name] = _drop_and_regrow_flat(
                    weights, grow_scores[name].reshape(-1).to(mask.device), flat_mask, moved, name, absolute=True
                )
            return moves
        names = list(masked)
        device = masked[names[0]][1].device
        flat_mask = torch.cat([masked[n][1].reshape(-1).to(device) for n in names])
        magnitudes = torch.cat([masked[n][0].detach().reshape(-1).abs().to(device) for n in names])
        scores = torch.cat([grow_scores[n].reshape(-1).to(device) for n in names])
        moved = replacement_count(fraction, int(flat_mask.sum()))
        dropped, grown = _drop_and_regrow_flat(magnitudes, scores, flat_mask, moved, "all masked tensors")
        moves, start = {}, 0
        for name in names:
            end = start + masked[name][1].numel()
            moves[name] = tuple(p[(p >= start) & (p < end)] - start for p in (dropped, grown))
            start = end
        return moves

    @torch.no_grad()
    def _move(self, moves: Mapping[str, tuple[Tensor, Tensor]]) -> int:
        """Applies the moves in place; returns the number of weights that left the masks."""
        reset_state = self.config.mask_optimizer_moments
        sweep = not self._clean or not reset_state  # a pass over whole tables, see step()
        moved = 0
        for name, (dropped, grown) in moves.items():
            original, mask = self._masked[name]
            newly_grown = grown[~_take(mask, grown)]  # a weight dropped and regrown in place keeps its value
            _put_(mask, dropped, False)
            _put_(mask, grown, True)
            gone = dropped[~_take(mask, dropped)]
            reset = torch.cat([gone, newly_grown])
            _put_(original, reset, 0.0)
            if sweep:
                original.masked_fill_(~mask, 0)
            if reset_state:
                for key, value in self.optimizer.state.get(original, {}).items():
                    if key != "step" and isinstance(value, Tensor) and value.shape == original.shape:
                        _put_(value, reset, 0.0)
                        if sweep:
                            value.masked_fill_(~mask.to(value.device), 0)
            _put_(self.ever_active[name], newly_grown, True)
            moved += gone.numel()
        self._clean = True
        return moved

    def _check_budget(self, moves: Mapping[str, tuple[Tensor, Tensor]], step: int) -> None:
        if self.config.budget == "global":
            dropped = sum(d.numel() for d, _ in moves.values())
            grown = sum(g.numel() for _, g in moves.values())
            if dropped != grown:
                raise RuntimeError(f"step {step}: {dropped} weights dropped but {grown} regrown in total")
            return
        for name, (dropped, grown) in moves.items():
            if dropped.numel() != grown.numel():
                raise RuntimeError(f"step {step}: {name!r} drops {dropped.numel()} weights but regrows {grown.numel()}")

    def _log(self, step: int, fraction: float, moved: int) -> None:
        if logger.isEnabledFor(logging.INFO):
            active = sum(int(mask.sum()) for _, mask in self._masked.values())
            logger.info(
                "step %d: replaced %d of %d active weights (fraction %.4f), exploration rate %.4f",
                step,
                moved,
                active,
                fraction,
                self.exploration_rate(),
            )
        if logger.isEnabledFor(logging.DEBUG):
            for name, (_, mask) in self._masked.items():
                logger.debug("step %d: %s density %.4f", step, name, int(mask.sum()) / max(mask.numel(), 1))

    def exploration_rate(self) -> float:
        """Fraction of maskable weights active at some point so far.

        The in-time over-parameterisation rate of Liu et al. 2021, "Do We Actually Need Dense
        Over-Parameterization? In-Time Over-Parameterization in Sparse Training" (ICML).
        """
        total = sum(mask.numel() for mask in self.ever_active.values())
        return sum(int(mask.sum()) for mask in self.ever_active.values()) / total if total else 1.0

    def state_dict(self) -> dict[str, Any]:
        """The updater's own state: ever-active masks, generator state, update count and config.

        The masks themselves are buffers of the model and travel with ``model.state_dict()``.
        Everything is a tensor or a plain Python value, so ``torch.load(weights_only=True)``
        reads it back.
        """
        return {
            "config": dataclasses.asdict(self.config),
            "ever_active": {name: mask.clone() for name, mask in self.ever_active.items()},
            "generator_state": self.generator.get_state(),
            "updates_done": self.updates_done,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restores `state_dict`; a resumed run then continues identically.

        Raises:
            ValueError: If the ever-active masks do not match this model's masked parameters.
        """
        ever_active = state["ever_active"]
        if set(ever_active) != set(self.ever_active):
            raise ValueError(
                f"state has ever-active masks for {sorted(ever_active)}, the model masks {sorted(self.ever_active)}"
            )
        for name, mask in ever_active.items():
            expected = tuple(self.ever_active[name].shape)
            if tuple(mask.shape) != expected:
                raise ValueError(f"ever-active mask {name!r} has shape {tuple(mask.shape)}, expected {expected}")
        saved_config = state.get("config")
        if saved_config is not None and saved_config != dataclasses.asdict(self.config):
            logger.warning("resuming with a different DynamicSparseConfig: saved %s, now %s", saved_config, self.config)
        self.ever_active = {name: mask.to(self.ever_active[name].device).clone() for name, mask in ever_active.items()}
        self.generator.set_state(state["generator_state"].cpu())
        self.updates_done = int(state["updates_done"])
        self._dense_gradients = {}
        self._row_gradients = {}
        self._capture = True
        self._clean = False


class _GradientCapture:
    """Forward hook on one `MaskParametrization`: records ``dL/dW_effective`` for an updater.

    Holds the updater and the parametrization weakly, and records only the forward passes of
    that very parametrization. A deep copy of the hook (made when the model is deep-copied)
    is inert, so the copy of a model never feeds the original model's updater.
    """

    def __init__(self, updater: DynamicSparseUpdater | None, name: str, owner: nn.Module | None) -> None:
        self.name = name
        self._updater = weakref.ref(updater) if updater is not None else None
        self._owner = weakref.ref(owner) if owner is not None else None

    def __call__(self, module: nn.Module, inputs: Any, effective_weight: Tensor) -> None:
        updater = self._updater() if self._updater is not None else None
        if updater is None or self._owner is None or module is not self._owner():
            return
        if updater._capture and effective_weight.requires_grad:
            effective_weight.register_hook(functools.partial(updater._accumulate, self.name))

    def lookup(self, module: nn.Module, ids: Tensor, rows: Tensor) -> None:
        """Lookup hook: records ``dL/dW_effective`` at the looked-up rows (sparse gradients)."""
        updater = self._updater() if self._updater is not None else None
        if updater is None or self._owner is None or module is not self._owner():
            return
        if updater._capture and rows.requires_grad:
            rows.register_hook(functools.partial(updater._accumulate_rows, self.name, ids))

    def __deepcopy__(self, memo: dict) -> _GradientCapture:
        return _GradientCapture(None, self.name, None)
