"""`Optimizer`: what every optimizer shares, whatever its update rule.

An optimizer holds
- `param_groups`: a list of dicts, each with the tensors to update (`'params'`) and every
  hyper-parameter (`'lr'`, `'momentum'`, ...). Groups let one model train its parts with
  different settings (no weight decay on biases, a smaller lr for a pre-trained body). The
  update reads `group['lr']` afresh at every step, which is how learning-rate schedulers
  work: they only write new values into the groups.
- `state`: per-parameter memory of the algorithm (momentum buffers, Adam's moments), a dict
  keyed by the parameter tensor itself (tensors hash by identity).

`step()` updates each parameter in place, on its NumPy array `p.data`, outside autograd: an
update is not part of the model's computation, so nothing is recorded and no Tensor is
created per step. Each write bumps the parameter's version counter, as an in-place op under
`no_grad` does in PyTorch: a graph built *before* the update and still waiting for its
backward then fails loudly instead of computing a gradient from the new values.

`state_dict()` replaces the parameters by their position (0, 1, 2, ... across the groups, in
order), so the state can be written without pickling Tensors and loaded into a fresh optimizer
over a fresh model whose parameters come in the same order.
"""

from __future__ import annotations

import copy
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from minigrad.autograd.grad_mode import enable_grad
from minigrad.tensor import Tensor


class Optimizer:
    """Base class of all optimizers: parameter groups, per-parameter state, checkpoints.

    Args:
        params: an iterable of Tensors (each a leaf, usually with `requires_grad=True`), of
            `(name, Tensor)` pairs (what `named_parameters()` yields), or of dicts that each
            define a parameter group: `{'params': [...], 'lr': 0.1, ...}`. Keys a group leaves
            out take their value from `defaults`.
        defaults: the default value of every hyper-parameter of the algorithm.

    Subclasses implement `step`. The per-parameter `state` holds minigrad Tensors for buffers
    and a Python int for the step counter `'step'` (PyTorch keeps a float32 0-d tensor there so
    that fused and capturable GPU steps can read it on the device; minigrad has no such step,
    and an int costs no array op per parameter per step).

    Deviations from PyTorch: learning rates and other hyper-parameters are Python numbers (no
    Tensor lr); there are no `foreach`, `fused`, `capturable` or `differentiable` options and
    no step/state-dict hooks; `load_state_dict` deep-copies the loaded state (PyTorch may
    alias the tensors of the dict it was given) and checks every buffer's shape against its
    parameter.
    """

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got {type(params).__module__}.{type(params).__name__}"
            )
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyper-parameters (e.g. when unfreezing a
        layer during fine-tuning).

        Args:
            param_group: `{'params': tensors or (name, tensor) pairs, **hyper_parameters}`;
                missing hyper-parameters take the optimizer's defaults.

        Raises:
            TypeError: the group is not a dict, its params are a set (unordered, so a
                checkpoint could not be matched to them) or hold something not a Tensor.
            ValueError: a parameter is not a leaf, or is already in another group.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        if "params" not in param_group:
            raise KeyError(
                "add_param_group: the group has no 'params' key; got keys "
                f"{sorted(param_group)}"
            )
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. "
                                 "Some param names are missing")
            param_group["param_names"] = names
            params = [p[1] for p in params]
        param_group["params"] = params
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params "
                                f"(index {i}) is {type(p).__module__}.{type(p).__name__}")
            if not (p.is_leaf or p.retains_grad):
                raise ValueError(f"can't optimize a non-leaf Tensor (param {i}, shape "
                                 f"{p.shape}, grad_fn={p.grad_fn!r})")
        for name, default in self.defaults.items():
            param_group.setdefault(name, default)
        if len({id(p) for p in params}) != len(params):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "in future, this will cause an error; see "
                          "github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        for g, group in enumerate(self.param_groups):
            if ("param_names" in param_group) != ("param_names" in group):
                text = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {text} to the optimizer")
            taken = {id(p) for p in group["params"]}
            for i, p in enumerate(params):
                if id(p) in taken:
                    label = (repr(param_group["param_names"][i]) if "param_names" in param_group
                             else f"at index {i}")
                    raise ValueError(
                        f"some parameters appear in more than one parameter group: parameter "
                        f"{label} of the new group (shape {p.shape}) is already in param "
                        f"group {g}"
                    )
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters.

        Args:
            set_to_none: drop `.grad` (the next backward allocates a fresh one, and a step
                skips parameters that got no gradient) instead of filling it with zeros.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad.detach_()
                    else:
                        p.grad.requires_grad_(False)
                    p.grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None):
        """Update every parameter that has a gradient, once.

        Args:
            closure: a function that zeroes the gradients, re-evaluates the model and calls
                `backward()`, returning the loss. Needed by algorithms that look at the loss
                several times per step (L-BFGS); the others just call it once first.

        Returns:
            The closure's loss, or None without a closure.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement step()")

    @staticmethod
    def _run_closure(closure: Callable[[], Any] | None):
        """Evaluate the loss with graph recording on, even if `step` runs under `no_grad()`."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # -- checkpoints ------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state, with each parameter replaced by its position.

        Returns:
            `{'state': {index: {'step': int, 'exp_avg': Tensor, ...}}, 'param_groups':
            [{'lr': ..., ..., 'params': [indices]}]}`. Indices count the parameters across
            the groups in order. Only parameters that have state appear under `'state'`.
            As in PyTorch, the state values are the live buffers, not copies: write the dict
            out (or deep-copy it) before the next `step()`.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: s for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state saved by `state_dict()` into this optimizer (same groups, same sizes).

        Floating-point buffers are copied and cast to their parameter's dtype; step counters
        come back as ints; NumPy scalars in the groups become Python numbers, and a list
        where this optimizer has a tuple (`betas` read back from a file) becomes a tuple.
        Keys a saved group lacks keep this optimizer's values.

        Args:
            state_dict: `{'state': ..., 'param_groups': ...}` as returned by `state_dict()`;
                buffers may be Tensors or NumPy arrays (as a checkpoint reader returns them).

        Raises:
            KeyError: a top-level key or a group's 'params' is missing.
            ValueError: the number of groups, a group's size, or a buffer's shape differs.
        """
        for key in ("state", "param_groups"):
            if key not in state_dict:
                raise KeyError(f"load_state_dict: the state dict has no '{key}' key; got keys "
                               f"{sorted(state_dict)}")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has a different number of parameter groups: "
                f"{len(saved_groups)} saved, the optimizer has {len(self.param_groups)}"
            )
        for g, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if "params" not in saved:
                raise KeyError(f"load_state_dict: saved param group {g} has no 'params' key")
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"loaded state dict contains a parameter group that doesn't match the size "
                    f"of optimizer's group: group {g} has {len(saved['params'])} saved "
                    f"parameters, the optimizer's has {len(group['params'])}"
                )
        params_by_index = {
            int(i): p for saved, group in zip(saved_groups, self.param_groups)
            for i, p in zip(saved["params"], group["params"])
        }
        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for i, values in state_dict["state"].items():
            p = params_by_index.get(int(i))
            if p is None:
                raise KeyError(f"load_state_dict: state for parameter {i}, which is in no "
                               f"saved param group (indices {sorted(params_by_index)})")
            state[p] = {key: _load_state_value(key, value, p, i) for key, value in values.items()}
        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            new = {key: _python_value(value, group.get(key))
                   for key, value in copy.deepcopy(
                       {k: v for k, v in saved.items() if k != "params"}).items()}
            new["params"] = group["params"]
            for key, value in group.items():  # e.g. an option newer than the checkpoint
                new.setdefault(key, value)
            new_groups.append(new)
        self.state = state
        self.param_groups = new_groups

    def __getstate__(self) -> dict[str, Any]:
        # An lr scheduler replaces `step` on the instance by a wrapper bound to *this*
        # optimizer (see lr_scheduler/scheduler.py); a copy must step itself, not the original.
        return {key: value for key, value in self.__dict__.items() if key != "step"}

    def __repr__(self) -> str:
        text = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"


def _load_state_value(key: str, value, param: Tensor, index):
    """One loaded state entry: a fresh buffer Tensor in the parameter's dtype, or an int step."""
    if key == "step":
        return int(np.asarray(value.data if isinstance(value, Tensor) else value).item())
    if isinstance(value, (Tensor, np.ndarray)):
        array = value.data if isinstance(value, Tensor) else value
        if array.dtype.kind == "f":
            if array.shape != param.shape:
                raise ValueError(
                    f"load_state_dict: state '{key}' of parameter {index} has shape "
                    f"{array.shape}, but the parameter has shape {param.shape}"
                )
            array = array.astype(param.data.dtype)
        return Tensor._wrap(np.array(array, copy=True))
    return copy.deepcopy(value)


def _python_value(value, current):
    """A hyper-parameter read back from a checkpoint, in the type this optimizer uses."""
    if isinstance(value, (np.generic, np.ndarray)) and np.ndim(value) == 0:
        return value.item()
    if isinstance(value, list) and isinstance(current, tuple):
        return tuple(_python_value(v, None) for v in value)
    return value


def zeros_state(param: Tensor) -> Tensor:
    """A state buffer: zeros with the parameter's shape and dtype, outside any graph."""
    return Tensor._wrap(np.zeros_like(param.data))


def lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """`start += weight * (end - start)` in place: an exponential moving average step.

    The arithmetic order is torch.lerp's for `weight < 0.5` (PyTorch computes
    `end - (1 - weight) * (end - start)` above, the same number up to rounding).
    """
    start += weight * (end - start)
