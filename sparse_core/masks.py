"""Binary weight masks and their application to modules.

A :class:`Mask` maps parameter names -- as ``model.named_parameters()`` spells them on the
*unmasked* model, e.g. ``"0.weight"`` -- to bool tensors of the parameter's shape (True =
weight kept). :func:`apply_mask` attaches a mask through
:mod:`torch.nn.utils.parametrize`: the optimizer trains ``<module>.parametrizations.<name>
.original`` while the forward pass sees ``original * mask`` (a cached floating-point copy
of the mask, see :class:`MaskParametrization`), so masked weights are exactly zero and
receive exactly zero gradient. :func:`set_mask` edits the masks in place
(dynamic sparse training; weights it grows restart at exactly zero), :func:`remove_masks`
bakes them in for good.
:func:`embedding_lookup` reads rows of a (masked) embedding table with a row-sparse
gradient, so a large table never receives a dense gradient.
"""

from __future__ import annotations

import base64
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.utils.hooks import RemovableHandle

__all__ = [
    "Mask",
    "MaskParametrization",
    "apply_mask",
    "default_prunable",
    "effective_parameters",
    "embedding_lookup",
    "masked_parameters",
    "named_parameters",
    "remove_masks",
    "set_mask",
    "zero_masked_",
]

logger = logging.getLogger(__name__)

_JSON_FORMAT = "sparse_core.Mask"
_JSON_VERSION = 1


def default_prunable(name: str, param: Tensor) -> bool:
    """Selects the parameters pruned by default: every tensor with at least two dimensions.

    That covers Linear and Conv weights and embedding tables, and leaves out biases and the
    1-d scales of normalisation layers.

    Args:
        name: The parameter's (unmasked) name; unused, present so custom selectors can use it.
        param: The parameter.

    Returns:
        True when ``param.ndim >= 2``.
    """
    del name
    return param.ndim >= 2


class Mask(Mapping[str, Tensor]):
    """An immutable mapping from parameter name to a bool keep-mask (True = weight kept).

    The constructor keeps references to the given tensors (no copy); every operation that
    produces a mask returns a new one.

    Args:
        tensors: Parameter name -> bool tensor of that parameter's shape.

    Raises:
        TypeError: If a key is not a string or a value is not a bool tensor.
    """

    def __init__(self, tensors: Mapping[str, Tensor]):
        checked: dict[str, Tensor] = {}
        for name, tensor in tensors.items():
            if not isinstance(name, str):
                raise TypeError(f"Mask keys must be parameter names (str), found {name!r}")
            if not isinstance(tensor, Tensor) or tensor.dtype != torch.bool:
                found = tensor.dtype if isinstance(tensor, Tensor) else type(tensor).__name__
                raise TypeError(
                    f"Mask entry {name!r} must be a torch.bool tensor, found {found}; "
                    "convert explicitly, e.g. `tensor != 0`."
                )
            checked[name] = tensor.detach()
        self._tensors = checked

    # Mapping protocol ---------------------------------------------------------------------
    def __getitem__(self, name: str) -> Tensor:
        try:
            return self._tensors[name]
        except KeyError:
            raise KeyError(f"no mask for {name!r}; masked names: {sorted(self._tensors)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._tensors)

    def __len__(self) -> int:
        return len(self._tensors)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mask):
            return NotImplemented
        return self.keys() == other.keys() and all(torch.equal(self[k].cpu(), other[k].cpu()) for k in self)

    __hash__ = None  # type: ignore[assignment]

    # Counts -------------------------------------------------------------------------------
    def nonzeros(self) -> int:
        """Number of kept weights over all tensors."""
        return sum(int(t.sum()) for t in self._tensors.values())

    def numel(self) -> int:
        """Number of maskable weights over all tensors."""
        return sum(t.numel() for t in self._tensors.values())

    def density(self) -> float:
        """Fraction of weights kept (1.0 for a mask without elements)."""
        total = self.numel()
        return self.nonzeros() / total if total else 1.0

    def sparsity(self) -> float:
        """Fraction of weights removed, ``1 - density()``."""
        return 1.0 - self.density()

    def layer_densities(self) -> dict[str, float]:
        """Per-tensor fraction of weights kept (1.0 for zero-element tensors)."""
        return {k: (int(t.sum()) / t.numel() if t.numel() else 1.0) for k, t in self.items()}

    def report(self) -> str:
        """A per-tensor table: name, shape, nonzeros, total and density, plus a total row."""
        rows = [("name", "shape", "nonzeros", "total", "density")]
        for name, tensor in self.items():
            kept = int(tensor.sum())
            density = kept / tensor.numel() if tensor.numel() else 1.0
            rows.append((name, str(tuple(tensor.shape)), str(kept), str(tensor.numel()), f"{density:.4f}"))
        rows.append(("total", "", str(self.nonzeros()), str(self.numel()), f"{self.density():.4f}"))
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        lines = [
            "  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
            for row in rows
        ]
        lines.insert(1, "-" * len(lines[0]))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.report()

    # Logic --------------------------------------------------------------------------------
    def _check_compatible(self, other: Mask) -> None:
        if not isinstance(other, Mask):
            raise TypeError(f"expected a Mask, found {type(other).__name__}")
        if self.keys() != other.keys():
            missing = sorted(set(self) ^ set(other))
            raise ValueError(f"masks have different names; not in both: {missing}")
        for name in self:
            if self[name].shape != other[name].shape:
                raise ValueError(
                    f"mask {name!r} has shape {tuple(self[name].shape)} here "
                    f"and {tuple(other[name].shape)} in the other mask"
                )

    def __and__(self, other: Mask) -> Mask:
        self._check_compatible(other)
        return Mask({k: self[k] & other[k].to(self[k].device) for k in self})

    def __or__(self, other: Mask) -> Mask:
        self._check_compatible(other)
        return Mask({k: self[k] | other[k].to(self[k].device) for k in self})

    def __invert__(self) -> Mask:
        return Mask({k: ~t for k, t in self.items()})

    def to(self, device: torch.device | str) -> Mask:
        """Returns a copy with every tensor on ``device``."""
        return Mask({k: t.to(device) for k, t in self.items()})

    # Construction -------------------------------------------------------------------------
    @classmethod
    def ones_like(cls, model: nn.Module, include: Callable[[str, Tensor], bool] = default_prunable) -> Mask:
        """An all-True mask over the parameters of ``model`` selected by ``include``.

        Args:
            model: Any module, masked or not.
            include: ``include(name, param) -> bool`` choosing the parameters to cover.
        """
        return cls(
            {name: torch.ones_like(p, dtype=torch.bool) for name, p in named_parameters(model) if include(name, p)}
        )

    @classmethod
    def from_model(cls, model: nn.Module) -> Mask:
        """A copy of the masks currently applied to ``model`` (empty if none)."""
        return cls({name: mask.clone() for name, (_, mask) in masked_parameters(model).items()})

    # Serialisation ------------------------------------------------------------------------
    def to_json(self) -> str:
        """Serialises to JSON: per tensor its shape and its bits packed (numpy.packbits) in base64."""
        tensors = {}
        for name, tensor in self.items():
            bits = np.packbits(tensor.cpu().numpy().reshape(-1))
            tensors[name] = {"shape": list(tensor.shape), "bits": base64.b64encode(bits.tobytes()).decode("ascii")}
        return json.dumps({"format": _JSON_FORMAT, "version": _JSON_VERSION, "tensors": tensors})

    @classmethod
    def from_json(cls, text: str) -> Mask:
        """Reads a mask written by :meth:`to_json`.

        Raises:
            ValueError: If the text is not a serialised Mask or a tensor's bits do not fit its shape.
        """
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != _JSON_FORMAT:
            raise ValueError(f"not a serialised Mask: expected 'format': {_JSON_FORMAT!r}")
        if data.get("version") != _JSON_VERSION:
            raise ValueError(f"unsupported Mask JSON version {data.get('version')!r}; expected {_JSON_VERSION}")
        tensors = {}
        for name, entry in data["tensors"].items():
            shape = tuple(int(s) for s in entry["shape"])
            count = int(np.prod(shape, dtype=np.int64))
            packed = np.frombuffer(base64.b64decode(entry["bits"]), dtype=np.uint8)
            if packed.size != (count + 7) // 8:
                raise ValueError(f"Mask JSON entry {name!r}: {packed.size} bytes do not fit shape {shape}")
            bits = np.unpackbits(packed, count=count).astype(bool)
            tensors[name] = torch.from_numpy(bits.reshape(shape))
        return cls(tensors)

    def save(self, path: str | Path) -> None:
        """Writes :meth:`to_json` to ``path``."""
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Mask:
        """Reads a mask saved with :meth:`save`."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


class MaskParametrization(nn.Module):
    """Parametrization ``weight = original * mask`` with the mask as a persistent bool buffer.

    The product uses a floating-point copy of the mask, cached and rebuilt whenever the
    bool buffer changes (``set_mask``, ``load_state_dict``, ``.to(device)``): multiplying
    by a same-dtype tensor is several times cheaper than ``torch.where`` or a bool product.
    Masked entries are exactly zero (possibly ``-0.0``, which equals 0) as long as the
    original is finite there; `apply_mask` and `set_mask` zero the originals, and their
    gradients are zero, so they stay finite.

    Args:
        mask: Bool tensor of the parameter's shape.

    Shapes:
        - mask: same as the parametrized parameter.
    """

    def __init__(self, mask: Tensor):
        super().__init__()
        self.register_buffer("mask", mask.clone())
        self._scale: Tensor | None = None
        self._scale_key: tuple | None = None
        self._lookup_hooks: OrderedDict[int, Callable[[nn.Module, Tensor, Tensor], None]] = OrderedDict()

    def _scale_for(self, original: Tensor) -> Tensor:
        key = (id(self.mask), self.mask._version, original.dtype, original.device)
        if self._scale is None or key != self._scale_key:
            self._scale = self.mask.to(original.dtype)
            self._scale_key = key
        return self._scale

    def forward(self, original: Tensor) -> Tensor:
        return original * self._scale_for(original)

    def lookup(self, original: Tensor, ids: Tensor, sparse: bool = True) -> Tensor:
        """Rows ``ids`` of ``original * mask``, read without building the masked table.

        ``F.embedding(ids, original, sparse=sparse) * mask[ids]``: with ``sparse`` the gradient of
        ``original`` is a sparse COO tensor holding the looked-up rows only (uncoalesced, one
        entry per id), its values already zero at masked entries. The lookup hooks
        (:meth:`register_lookup_hook`) see every call.

        Shapes:
            - original: ``(rows, dim)``; ids: any shape ``S`` of int64; return: ``(*S, dim)``.
        """
        rows = F.embedding(ids, original, sparse=sparse) * F.embedding(ids, self._scale_for(original))
        for hook in list(self._lookup_hooks.values()):
            hook(self, ids, rows)
        return rows

    def register_lookup_hook(self, hook: Callable[[nn.Module, Tensor, Tensor], None]) -> RemovableHandle:
        """Calls ``hook(parametrization, ids, masked_rows)`` after every :meth:`lookup`; returns its handle.

        The masked rows are the effective weights' rows, so a gradient hook on them sees
        ``dL/dW_effective`` at those rows, inactive entries included (what gradient regrowth ranks).
        """
        handle = RemovableHandle(self._lookup_hooks)
        self._lookup_hooks[handle.id] = hook
        return handle

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_scale"], state["_scale_key"] = None, None  # rebuilt on first use
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_lookup_hooks", OrderedDict())  # pickled before lookups existed


def _walk(module: nn.Module, prefix: str = "", seen: set[int] | None = None) -> Iterator[tuple[str, nn.Module]]:
    """Yields (dotted path prefix, module) once per module, skipping parametrization containers."""
    seen = set() if seen is None else seen
    if id(module) in seen:
        return
    seen.add(id(module))
    yield prefix, module
    for child_name, child in module._modules.items():
        if child is None or (child_name == "parametrizations" and parametrize.is_parametrized(module)):
            continue
        yield from _walk(child, f"{prefix}{child_name}.", seen)


def _mask_parametrization(module: nn.Module, attr: str) -> MaskParametrization | None:
    if not parametrize.is_parametrized(module, attr):
        return None
    for p in module.parametrizations[attr]:
        if isinstance(p, MaskParametrization):
            return p
    return None


def embedding_lookup(module: nn.Module, ids: Tensor, attr: str = "weight", sparse: bool = True) -> Tensor:
    """Rows ``ids`` of ``module``'s table ``attr``, masked if a mask is applied, with a row-sparse gradient.

    For a table masked by :func:`apply_mask` this is :meth:`MaskParametrization.lookup` on its
    ``original`` (the masked table is never built); for an unmasked one,
    ``F.embedding(ids, table, sparse=sparse)``. With ``sparse`` the gradient of the trained
    tensor is a sparse COO tensor of the looked-up rows (``torch.optim.SparseAdam`` or
    ``torch.optim.Adagrad`` accept it), so a table of millions of rows never receives a
    dense gradient; the values equal the dense path's gradient on those rows.

    Args:
        module: The module owning the table (e.g. an ``nn.Embedding``).
        ids: Row indices.
        attr: The table's attribute name.
        sparse: Row-sparse gradient (else dense, as ``module.weight[ids]``).

    Shapes:
        - ids: any shape ``S``; return: ``(*S, dim)``.

    Raises:
        ValueError: If the table carries a parametrization other than one mask.
    """
    if not parametrize.is_parametrized(module, attr):
        return F.embedding(ids, getattr(module, attr), sparse=sparse)
    chain = module.parametrizations[attr]
    if len(chain) != 1 or not isinstance(chain[0], MaskParametrization):
        raise ValueError(
            f"embedding_lookup reads tables masked by apply_mask only; {attr!r} carries "
            f"{[type(p).__name__ for p in chain]}"
        )
    return chain[0].lookup(chain.original, ids, sparse=sparse)


def named_parameters(model: nn.Module) -> Iterator[tuple[str, nn.Parameter]]:
    """Like ``model.named_parameters()`` but with unmasked names.

    A parametrized parameter is reported under its plain name (``"0.weight"``), paired with
    the ``original`` parameter the optimizer sees. Shared parameters are reported once.
    """
    seen: set[int] = set()
    for prefix, module in _walk(model):
        items = list(module._parameters.items())
        if parametrize.is_parametrized(module):
            items += [(attr, plist.original) for attr, plist in module.parametrizations.items()]
        for attr, param in items:
            if param is not None and id(param) not in seen:
                seen.add(id(param))
                yield prefix + attr, param


def effective_parameters(model: nn.Module) -> dict[str, Tensor]:
    """Unmasked name -> detached effective value (``original`` with the mask applied)."""
    out = {}
    for name, param in named_parameters(model):
        module_path, _, attr = name.rpartition(".")
        module = model.get_submodule(module_path)
        with torch.no_grad():
            out[name] = getattr(module, attr).detach() if parametrize.is_parametrized(module, attr) else param.detach()
    return out


def masked_parameters(model: nn.Module) -> dict[str, tuple[nn.Parameter, Tensor]]:
    """Unmasked name -> (the ``original`` parameter the optimizer trains, its live bool mask buffer).

    Editing the returned mask buffer in place changes the model's mask.
    """
    out = {}
    for prefix, module in _walk(model):
        if not parametrize.is_parametrized(module):
            continue
        for attr, plist in module.parametrizations.items():
            p = _mask_parametrization(module, attr)
            if p is not None:
                out[prefix + attr] = (plist.original, p.mask)
    return out


def _validate(model: nn.Module, mask: Mask) -> dict[str, nn.Parameter]:
    params = dict(named_parameters(model))
    unknown = [name for name in mask if name not in params]
    if unknown:
        raise KeyError(f"mask names {unknown} are not parameters of the model; valid names: {sorted(params)}")
    for name, tensor in mask.items():
        if tensor.shape != params[name].shape:
            raise ValueError(
                f"mask {name!r} has shape {tuple(tensor.shape)}, parameter has shape {tuple(params[name].shape)}"
            )
    return params


def apply_mask(model: nn.Module, mask: Mask, optimizer: torch.optim.Optimizer | None = None) -> nn.Module:
    """Masks the parameters named in ``mask``, in place, and zeroes the masked originals.

    Unmasked parameters get a :class:`MaskParametrization`; already masked ones have their
    mask replaced through :func:`set_mask`, so weights grown by the new mask start at
    exactly zero. All names and shapes are checked before anything changes.

    Args:
        model: The module to mask.
        mask: Unmasked parameter name -> bool tensor of that parameter's shape.
        optimizer: If given, its per-weight state is zeroed wherever a weight is not active
            both before and after (see :func:`set_mask`).

    Returns:
        ``model`` itself.

    Raises:
        KeyError: If a mask name is not a parameter of ``model`` (the message lists the valid names).
        ValueError: If a mask's shape differs from its parameter's.
    """
    params = _validate(model, mask)
    already = masked_parameters(model)
    set_mask(model, Mask({k: v for k, v in mask.items() if k in already}), optimizer)
    for name, tensor in mask.items():
        if name in already:
            continue
        module_path, _, attr = name.rpartition(".")
        module = model.get_submodule(module_path)
        buffer = tensor.to(params[name].device)
        parametrize.register_parametrization(module, attr, MaskParametrization(buffer))
        if optimizer is not None:  # the parametrization keeps the parameter object as ``original``
            _zero_optimizer_state_(optimizer, params[name], ~buffer)
    zero_masked_(model)
    logger.debug("applied mask over %d tensors, density %.4f", len(mask), mask.density() if len(mask) else 1.0)
    return model


def set_mask(model: nn.Module, mask: Mask, optimizer: torch.optim.Optimizer | None = None) -> None:
    """Copies ``mask`` into the existing mask buffers in place; grown weights restart at zero.

    Parametrizations are not re-registered, so optimizer state stays attached to the same
    ``original`` tensors. Masked parameters not named in ``mask`` keep their mask.

    The originals are zeroed wherever a weight is not active both before and after: newly
    masked entries, and newly grown ones, whose stored original may have drifted while they
    were masked (momentum or Adam moments keep moving an entry after it is masked), so a
    grown weight starts at exactly zero. Entries active before and after keep their value.

    Args:
        model: A model masked by :func:`apply_mask`.
        mask: Unmasked parameter name -> new bool mask.
        optimizer: If given, its per-weight state (tensors of the parameter's shape, e.g.
            Adam's ``exp_avg`` / ``exp_avg_sq``, SGD's ``momentum_buffer``) is zeroed at the
            same entries, so grown weights also start with fresh moments and masked ones
            stop drifting.

    Raises:
        KeyError: If a name in ``mask`` is not currently masked (the message lists masked names).
        ValueError: If a shape differs.
    """
    current = masked_parameters(model)
    unknown = [name for name in mask if name not in current]
    if unknown:
        raise KeyError(f"{unknown} are not masked in the model; masked names: {sorted(current)}")
    for name, tensor in mask.items():
        if tensor.shape != current[name][1].shape:
            raise ValueError(
                f"mask {name!r} has shape {tuple(tensor.shape)}, parameter has shape {tuple(current[name][1].shape)}"
            )
    for name, tensor in mask.items():
        original, buffer = current[name]
        with torch.no_grad():
            changed_or_inactive = ~(buffer & tensor.to(buffer.device))
            buffer.copy_(tensor)
            original.masked_fill_(changed_or_inactive, 0)
        if optimizer is not None:
            _zero_optimizer_state_(optimizer, original, changed_or_inactive)


@torch.no_grad()
def _zero_optimizer_state_(optimizer: torch.optim.Optimizer, parameter: Tensor, where: Tensor) -> None:
    """Zeroes, at ``where``, every per-weight state tensor ``optimizer`` holds for ``parameter``."""
    for key, value in optimizer.state.get(parameter, {}).items():
        if key != "step" and isinstance(value, Tensor) and value.shape == parameter.shape:
            value.masked_fill_(where.to(value.device), 0)


def zero_masked_(model: nn.Module) -> nn.Module:
    """Sets every masked entry of the ``original`` parameters to exactly zero, in place.

    The effective weights are zero there regardless; this keeps the stored originals clean
    (e.g. after weight decay or momentum moved them). Returns ``model``.
    """
    with torch.no_grad():
        for original, mask in masked_parameters(model).values():
            original.masked_fill_(~mask, 0)
    return model


def remove_masks(model: nn.Module) -> nn.Module:
    """Removes the mask parametrizations for good, leaving plain parameters with zeros baked in.

    Any other parametrization registered on a masked parameter is baked in as well.
    Returns ``model``.
    """
    for name in masked_parameters(model):
        module_path, _, attr = name.rpartition(".")
        parametrize.remove_parametrizations(model.get_submodule(module_path), attr, leave_parametrized=True)
    return model
