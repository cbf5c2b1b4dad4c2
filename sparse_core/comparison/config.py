"""The settings of ``core compare`` (torch-free, so that ``--help`` stays fast)."""

from __future__ import annotations

from sparse_core.infra.errors import ConfigError
from sparse_core.infra.settings import config, setting

__all__ = ["METHODS", "SWEEP_SPARSITIES", "CompareConfig"]

METHODS = ("magnitude", "imp", "random_erk", "set", "rigl", "soup", "sms")
SWEEP_SPARSITIES = (0.5, 0.8, 0.9, 0.95)


@config
class CompareConfig:
    """What ``core compare`` trains.

    Attributes:
        dataset: the real digits: mnist5k (5,000 MNIST digits).
        sparsity: fraction of prunable weights removed.
        sweep: also run sparsities 0.5, 0.8, 0.9, 0.95 and plot accuracy against sparsity.
        methods: the sparse methods (dense always runs).
        hidden: hidden layer widths of the ReLU MLP (LeNet-300-100 by default).
        train_per_class: training digits per class (the rest, 100 per class, is the test set).
        epochs: training epochs of dense, static and dynamic runs, of each IMP round and of each
            retrain of a soup (every member of every SMS cycle).
        finetune_epochs: fine-tuning epochs after one-shot magnitude pruning.
        batch_size: Adam mini-batch size.
        learning_rate: Adam learning rate.
        imp_rounds: IMP pruning rounds to reach the target density (equal prune fraction); also
            the prune-retrain cycles of sms.
        rewind_steps: IMP rewinds to the weights after this many dense steps.
        soup_size: retrains averaged into a soup: of the IMP ticket (soup), in every cycle (sms).
        update_every: steps between SET / RigL mask updates (Delta T).
        initial_fraction: fraction of active weights replaced at the first update (alpha).
        end_fraction: mask updates stop after this fraction of training (RigL's 0.75).
        seed: data split, initialisation and data order.
    """

    dataset: str = setting("mnist5k", choices=("mnist5k",))
    sparsity: float = setting(0.9, gt=0.0, lt=1.0)
    sweep: bool = setting(False)
    methods: tuple[str, ...] = setting(METHODS, choices=METHODS)
    hidden: tuple[int, ...] = setting((300, 100), ge=1)
    train_per_class: int = setting(400, ge=1, le=490)
    epochs: int = setting(30, ge=1)
    finetune_epochs: int = setting(10, ge=0)
    batch_size: int = setting(64, ge=1)
    learning_rate: float = setting(2e-3, gt=0.0, cli="--lr")
    imp_rounds: int = setting(4, ge=1)
    rewind_steps: int = setting(100, ge=0)
    soup_size: int = setting(3, ge=1)
    update_every: int = setting(100, ge=1)
    initial_fraction: float = setting(0.3, gt=0.0, le=1.0)
    end_fraction: float = setting(0.75, gt=0.0, le=1.0)
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.methods:
            raise ConfigError("CompareConfig.methods: give at least one method", field="methods")
        if "soup" in self.methods and "imp" not in self.methods:
            raise ConfigError(
                "the 'soup' method averages retrains of the IMP ticket: include 'imp' too", field="methods"
            )
        for sparsity in self.sparsities:
            for index, (fan_in, fan_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:]), start=1):
                if round((1.0 - sparsity) * fan_in * fan_out) < 1:
                    raise ConfigError(
                        f"sparsity {sparsity} keeps no weight of layer {index} ({fan_in}x{fan_out} weights) at "
                        f"uniform density; choose a smaller sparsity or wider layers",
                        field="sparsity",
                    )

    @property
    def sparsities(self) -> tuple[float, ...]:
        """The sparsities compared: ``sparsity``, then (with ``sweep``) the rest of the sweep."""
        if not self.sweep:
            return (self.sparsity,)
        return (self.sparsity, *(s for s in SWEEP_SPARSITIES if s != self.sparsity))

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer widths of the MLP: 784 inputs, the hidden widths, 10 classes."""
        return (784, *self.hidden, 10)
