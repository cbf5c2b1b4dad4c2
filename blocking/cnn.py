"""The CNN of Zhang et al. (2024) that predicts whether a blocking onset persists.

The authors' layout (hzhang-math/BlockingSHAPTL, ``MM_util_AI.make_model``): conv 32
3×3 → max-pool 2 → conv 64 3×3 → max-pool 2 → conv 64 3×3 → flatten → dense 64 → 2
logits, ReLU after every convolution and the dense layer, Keras' default Glorot-uniform
weights and zero biases. On their 18 × 90 × 3 input with "valid" padding it has 134,338
parameters.

Every activation and pooling is its own ``nn.Module`` attribute, called once: SHAP's
DeepExplainer attaches its rules to modules, so a functional call (``F.relu``) or a module
used twice would break its attributions.
"""

from __future__ import annotations

import torch
from torch import nn

from blocking.config import CNNConfig
from sparse_core.infra.errors import InputError

__all__ = ["BlockingCNN", "count_parameters", "initialise"]


class BlockingCNN(nn.Module):
    """Convolutions with max-pooling, a dense layer, two logits (not persistent, persistent).

    Args:
        input_shape: ``(levels, lat, lon)`` of one sample.
        config: channels, dense width, kernel size and padding.

    Shapes:
        forward: ``(batch, levels, lat, lon)`` → logits ``(batch, 2)``.

    Raises:
        InputError: the input is too small for the layers (``padding="valid"`` shrinks it).
    """

    def __init__(self, input_shape: tuple[int, int, int], config: CNNConfig | None = None) -> None:
        super().__init__()
        config = config or CNNConfig()
        self.input_shape = tuple(int(v) for v in input_shape)
        channels_in, height, width = self.input_shape
        padding = "same" if config.padding == "same" else 0
        self.blocks = nn.ModuleList()  # for iteration only; each layer is called once in forward
        for k, channels in enumerate(config.channels):
            layers = [nn.Conv2d(channels_in, channels, config.kernel, padding=padding), nn.ReLU()]
            if config.padding == "valid":
                height, width = height - config.kernel + 1, width - config.kernel + 1
            if k < len(config.channels) - 1:
                layers.append(nn.MaxPool2d(2))
                height, width = height // 2, width // 2
            if height < 1 or width < 1:
                raise InputError(
                    f"input {self.input_shape} is too small for {len(config.channels)} {config.kernel}x"
                    f"{config.kernel} convolutions with {config.padding} padding; use padding same"
                )
            self.blocks.append(nn.Sequential(*layers))
            channels_in = channels
        self.flatten = nn.Flatten()
        self.dense = nn.Linear(channels_in * height * width, config.dense)
        self.dense_activation = nn.ReLU()
        self.output = nn.Linear(config.dense, 2)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        hidden = inputs
        for block in self.blocks:
            hidden = block(hidden)
        return self.output(self.dense_activation(self.dense(self.flatten(hidden))))

    def last_layer(self) -> nn.Linear:
        """The output layer (the one fine-tuned in the authors' transfer learning)."""
        return self.output


def initialise(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Glorot-uniform weights and zero biases (Keras' defaults), drawn from ``generator``."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(module.weight, generator=generator)
            nn.init.zeros_(module.bias)
    return model


def count_parameters(model: nn.Module) -> int:
    """Number of trainable and frozen parameters."""
    return sum(p.numel() for p in model.parameters())
