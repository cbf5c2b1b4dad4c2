"""Sparse-training methods side by side on real MNIST digits (``sparseworks core compare``).

The classic results of the field, reproduced with this core on LeNet-300-100
(784-300-100-10, LeCun et al. 1998) trained on 4,000 of the 5,000 real MNIST digits of
``mnist5k`` and tested on the other 1,000 (400 / 100 per class, a seeded split):

- ``magnitude``: train dense, prune globally by magnitude in one shot, fine-tune
  (Han et al. 2015, "Learning both Weights and Connections").
- ``imp``: iterative magnitude pruning with rewinding to an early step (Frankle & Carbin
  2019; Frankle et al. 2020).
- ``random_erk``: a static random mask with Erdős–Rényi-Kernel layer densities, trained
  from scratch (Evci et al. 2020, the "Static" baseline).
- ``set`` / ``rigl``: dynamic sparse training with random (Mocanu et al. 2018) or
  gradient (Evci et al. 2020) regrowth from an ERK random start.
- ``soup``: three retrains of the IMP ticket (same mask, same rewind point, different data
  orders) averaged into one model, once, at the final mask.
- ``sms``: Sparse Model Soups as published (Zimmer, Spiegel & Pokutta 2024, sec. 3,
  Algorithm 1): starting from the dense model, each of the ``imp_rounds`` prune-retrain
  cycles prunes the current model to IMP's next density, retrains ``soup_size`` copies
  (different data orders, ``epochs`` each, no rewinding), averages them, and the next cycle
  prunes that average. Each member gets an IMP round's budget, so the retraining costs
  ``soup_size`` times IMP's (the paper's accounting: the members train in parallel).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from sparse_core import distributions, lottery, pruning, soups
from sparse_core.comparison.config import METHODS, SWEEP_SPARSITIES, CompareConfig
from sparse_core.comparison.training import TrainConfig, accuracy, mlp, train_classifier
from sparse_core.dynamic import DynamicSparseConfig, DynamicSparseUpdater
from sparse_core.infra.datasets import load_mnist5k, split_per_class
from sparse_core.masks import Mask, apply_mask, masked_parameters

__all__ = ["METHODS", "SWEEP_SPARSITIES", "CompareConfig", "compare_methods", "layer_targets"]

log = logging.getLogger(__name__)


def layer_targets(model: nn.Module, density: float) -> dict[str, int]:
    """Per-layer nonzero counts for the ERK-initialised methods (total exact to one weight)."""
    shapes = {name: tuple(mask.shape) for name, mask in Mask.ones_like(model).items()}
    return distributions.counts(shapes, distributions.erk(shapes, density), density)


def _load(config: CompareConfig, device: torch.device):
    images, labels = load_mnist5k()
    train, test = split_per_class(labels, config.train_per_class, seed=config.seed)
    inputs = torch.as_tensor(images.reshape(len(images), -1), dtype=torch.float32) / 255.0
    targets = torch.as_tensor(labels)
    return (inputs[train].to(device), targets[train].to(device)), (inputs[test].to(device), targets[test].to(device))


def compare_methods(config: CompareConfig, device: torch.device | str = "cpu", progress: bool = False) -> dict:
    """Train dense and every sparse method of ``config`` and test them on the held-out digits.

    Returns:
        ``{"dense": {"accuracy", "nonzeros", "train_seconds"}, "methods": {name: {...}},
        "sweep": {sparsity: {name: {...}}}, "split": {...}}``. ``methods`` holds the first
        sparsity of ``config.sparsities``; each entry has ``accuracy``, ``nonzeros``,
        ``density``, ``target_nonzeros``, ``max_layer_deviation`` (weights), ``layers``
        (per-layer nonzeros) and ``train_seconds``; ``sms`` also has ``cycles`` (per cycle:
        ``density``, ``nonzeros``, ``soup_accuracy`` and the ``member_accuracies``).
    """
    device = torch.device(device)
    (train_x, train_y), (test_x, test_y) = _load(config, device)
    train_config = TrainConfig(epochs=config.epochs, batch_size=config.batch_size, learning_rate=config.learning_rate)
    steps = config.epochs * -(-len(train_x) // config.batch_size)

    def generator(offset: int) -> torch.Generator:
        return torch.Generator().manual_seed(config.seed * 1000 + offset)

    def fresh_model() -> nn.Module:
        """The same initial weights every call, without touching the global generator."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            return mlp(config.sizes).to(device)

    def fit(model: nn.Module, offset: int, train: TrainConfig = train_config, after_step=None) -> nn.Module:
        train_classifier(model, train_x, train_y, train, generator(offset), after_step=after_step)
        return model

    start = time.perf_counter()
    dense = fit(fresh_model(), 0)
    dense_result = {
        "accuracy": accuracy(dense, test_x, test_y),
        "nonzeros": Mask.ones_like(dense).nonzeros(),
        "train_seconds": time.perf_counter() - start,
    }

    def run_magnitude(density: float):
        model = copy.deepcopy(dense)
        mask = pruning.magnitude_global(model, density)
        apply_mask(model, mask)
        fit(model, 1, replace(train_config, epochs=config.finetune_epochs))
        return model, round(density * mask.numel())

    ticket: dict[str, object] = {}

    def run_imp(density: float):
        rewind_model = fresh_model()
        state = _state_after_steps(rewind_model, config.rewind_steps, train_x, train_y, train_config, generator(2))
        trained: list[nn.Module] = []

        def train_round(model: nn.Module) -> float:
            fit(model, 3)
            trained.append(model)
            return accuracy(model, test_x, test_y)

        mask, _ = lottery.imp(fresh_model, train_round, config.imp_rounds, final_density=density, rewind_state=state)
        ticket.update(mask=mask, state=state)
        return trained[-1], round(density * mask.numel())

    def run_static(density: float):
        model = fresh_model()
        targets = layer_targets(model, density)
        mask = pruning.random_mask(model, _densities(model, targets), generator(4))
        apply_mask(model, mask)
        return fit(model, 5), targets

    def run_dynamic(regrowth: str, offset: int) -> Callable:
        def run(density: float):
            model = fresh_model()
            targets = layer_targets(model, density)
            apply_mask(model, pruning.random_mask(model, _densities(model, targets), generator(offset)))
            optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
            updater = DynamicSparseUpdater(
                model,
                optimizer,
                DynamicSparseConfig(
                    regrowth=regrowth,
                    update_every=config.update_every,
                    end_step=int(config.end_fraction * steps),
                    initial_fraction=config.initial_fraction,
                ),
                generator=generator(offset + 1),
            )
            train_classifier(
                model,
                train_x,
                train_y,
                train_config,
                generator(offset + 2),
                after_step=updater.step,
                optimizer=optimizer,
            )
            updater.close()
            return model, targets

        return run

    def run_soup(density: float):
        members = []
        for member in range(config.soup_size):
            model = lottery.rewind(fresh_model(), ticket["state"], ticket["mask"])
            members.append(fit(model, 10 + member))
        return soups.soup(members, ticket["mask"]), round(density * ticket["mask"].numel())

    def run_sms(density: float):
        def retrain(model: nn.Module, cycle: int, member: int) -> float:
            fit(model, 100 + (cycle - 1) * config.soup_size + member)
            return accuracy(model, test_x, test_y)

        model, cycles = soups.sparse_model_soups(
            dense,
            retrain,
            config.imp_rounds,
            config.soup_size,
            final_density=density,
            evaluate=lambda average: accuracy(average, test_x, test_y),
        )
        history = [
            {
                "cycle": result.cycle_index,
                "density": result.density,
                "nonzeros": result.nonzeros,
                "soup_accuracy": result.soup_metrics,
                "member_accuracies": result.member_metrics,
            }
            for result in cycles
        ]
        return model, round(density * Mask.from_model(model).numel()), {"cycles": history}

    runners: dict[str, Callable[[float], tuple]] = {
        "magnitude": run_magnitude,
        "imp": run_imp,
        "random_erk": run_static,
        "set": run_dynamic("random", 6),
        "rigl": run_dynamic("gradient", 8),
        "soup": run_soup,
        "sms": run_sms,
    }
    sweep: dict[float, dict] = {}
    jobs = [(s, m) for s in config.sparsities for m in METHODS if m in config.methods]
    for sparsity, method in tqdm(jobs, desc="methods", disable=not progress):
        start = time.perf_counter()
        model, target, *extra = runners[method](1.0 - sparsity)
        seconds = time.perf_counter() - start
        sweep.setdefault(sparsity, {})[method] = _describe(model, target, test_x, test_y, seconds)
        for details in extra:  # e.g. the per-cycle accuracies of sms
            sweep[sparsity][method].update(details)
        log.info("sparsity %.2f %s: %s", sparsity, method, sweep[sparsity][method]["accuracy"])
    return {
        "dense": dense_result,
        "methods": sweep[config.sparsities[0]] if sweep else {},
        "sweep": {f"{s:g}": results for s, results in sweep.items()},
        "split": {"train": len(train_x), "test": len(test_x), "seed": config.seed},
    }


def _state_after_steps(model, steps, inputs, labels, train_config, generator) -> dict[str, torch.Tensor]:
    """The model's state after ``steps`` dense optimizer steps: IMP's rewind point."""
    state: dict[str, torch.Tensor] = {}

    class _Stop(Exception):
        pass

    def after_step(step: int) -> None:
        if step == steps:
            state.update({k: v.detach().clone() for k, v in model.state_dict().items()})
            raise _Stop

    try:
        train_classifier(model, inputs, labels, replace(train_config, epochs=10**6), generator, after_step=after_step)
    except _Stop:
        pass
    if steps == 0:
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return state


def _densities(model: nn.Module, targets: Mapping[str, int]) -> dict[str, float]:
    sizes = {name: mask.numel() for name, mask in Mask.ones_like(model).items()}
    return {name: targets[name] / sizes[name] for name in targets}


def _describe(model, target, test_x, test_y, seconds) -> dict:
    mask = Mask.from_model(model) if _is_masked(model) else None
    layers = {name: int(m.sum()) for name, m in mask.items()} if mask is not None else {}
    nonzeros = sum(layers.values())
    if isinstance(target, Mapping):
        deviation = max(abs(layers[name] - count) for name, count in target.items())
        target_total = sum(target.values())
    else:
        deviation, target_total = abs(nonzeros - target), target
    return {
        "accuracy": accuracy(model, test_x, test_y),
        "nonzeros": nonzeros,
        "density": nonzeros / mask.numel() if mask is not None else 1.0,
        "target_nonzeros": target_total,
        "max_layer_deviation": deviation,
        "layers": layers,
        "train_seconds": seconds,
    }


def _is_masked(model: nn.Module) -> bool:
    return bool(masked_parameters(model))


def summary_table(results: dict) -> str:
    """The comparison as a text table (method, accuracy, nonzeros, density, seconds)."""
    lines = [f"{'method':<12}{'sparsity':>9}{'accuracy':>10}{'nonzeros':>10}{'density':>9}{'target':>9}{'seconds':>9}"]
    dense = results["dense"]
    lines.append(
        f"{'dense':<12}{0:>9.2f}{dense['accuracy']:>10.4f}{dense['nonzeros']:>10d}{1:>9.3f}{'-':>9}{dense['train_seconds']:>9.1f}"
    )
    for sparsity, methods in results["sweep"].items():
        for name, row in methods.items():
            lines.append(
                f"{name:<12}{float(sparsity):>9.2f}{row['accuracy']:>10.4f}{row['nonzeros']:>10d}"
                f"{row['density']:>9.3f}{row['target_nonzeros']:>9d}{row['train_seconds']:>9.1f}"
            )
    return "\n".join(lines)


def plot_sweep(results: dict, path) -> None:
    """Test accuracy against sparsity, one line per method, dense as a reference line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    sparsities = sorted(results["sweep"], key=float)
    for method in METHODS:
        points = [
            (float(s), results["sweep"][s][method]["accuracy"]) for s in sparsities if method in results["sweep"][s]
        ]
        if points:
            xs, ys = zip(*points)
            axis.plot(xs, np.array(ys) * 100, marker="o", label=method)
    axis.axhline(results["dense"]["accuracy"] * 100, color="black", linestyle="--", label="dense")
    axis.set_xlabel("sparsity (fraction of weights removed)")
    axis.set_ylabel("test accuracy (%)")
    axis.set_title("LeNet-300-100 on 4,000 real MNIST digits (tested on 1,000)")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    from sparse_core.infra.files import save_figure

    save_figure(figure, path, dpi=120)  # atomic: a kill leaves the old PNG or none, never half of one
    plt.close(figure)
