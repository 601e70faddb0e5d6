"""`Module`: the base class of every layer and model, as `torch.nn.Module`.

A Module holds three ordered dicts, and everything else is built on walking them:

- `_parameters`: name -> Parameter (or None), the tensors an optimizer trains;
- `_buffers`: name -> Tensor (or None), state that is saved but not trained (BatchNorm's
  running statistics); names in `_non_persistent_buffers_set` are left out of `state_dict`;
- `_modules`: name -> child Module (or None), which makes a model a tree.

Plain attribute assignment fills them: `__setattr__` looks at the value, so
`self.weight = Parameter(...)` lands in `_parameters` and `self.fc = Linear(...)` in
`_modules`; `__getattr__` (only consulted when normal lookup fails) finds them again. The
`named_*` walks visit the tree depth first in registration order and build the dotted names
(`"features.0.weight"`) that `state_dict` uses as keys.

Calling a module runs its forward pre-hooks, `forward`, then its forward hooks: pruning masks,
quantization observers and the profiler attach there without changing the layer's code.
With no hook registered, `__call__` is one check and the call to `forward`.

Deviations from PyTorch: hooks take no `prepend`/`with_kwargs`/`always_call` options and
there are no global (all-module) hooks, no backward hooks and no `_version`/`_metadata` in
state dicts; `load_state_dict` checks every key before copying any, so a failed load leaves
the module unchanged (PyTorch may have copied some tensors before it raises).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from minigrad.autograd.grad_mode import no_grad
from minigrad.dtype import dtype as DType
from minigrad.dtype import from_numpy_dtype, to_numpy_dtype
from minigrad.nn.parameter import Parameter
from minigrad.tensor import Tensor
from minigrad.utils.hooks import RemovableHandle


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What `load_state_dict` returns: the keys it could not match (two lists of str)."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()


_hook_ids = itertools.count()  # keys of the hook dicts, in registration order


def _addindent(text: str, spaces: int) -> str:
    """Indent every line but the first (a child's repr nested in its parent's)."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


class Module:
    """Base class of all layers and models: subclass it, assign layers and Parameters in
    `__init__`, and define `forward`.

        class MLP(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(4, 8)    # registered: a child module
                self.fc2 = nn.Linear(8, 2)

            def forward(self, x):
                return self.fc2(self.fc1(x).relu())
    """

    training: bool

    def __init__(self) -> None:
        # object.__setattr__: our own __setattr__ needs these dicts to exist already.
        setattr_ = object.__setattr__
        setattr_(self, "training", True)
        setattr_(self, "_parameters", OrderedDict())
        setattr_(self, "_buffers", OrderedDict())
        setattr_(self, "_non_persistent_buffers_set", set())
        setattr_(self, "_modules", OrderedDict())
        setattr_(self, "_forward_pre_hooks", OrderedDict())
        setattr_(self, "_forward_hooks", OrderedDict())

    # -- calling -----------------------------------------------------------------------------

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; every subclass defines it. Call the module, not `forward`."""
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  f'"forward" function')

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._forward_pre_hooks or self._forward_hooks:
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    def _call_with_hooks(self, args: tuple, kwargs: dict) -> Any:
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    def register_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call `hook(module, args)` before every `forward`.

        `args` is the tuple of positional arguments. If the hook returns something other
        than None, it replaces them (a non-tuple becomes a one-element tuple). Keyword
        arguments pass through untouched.

        Returns:
            A handle whose `remove()` unregisters the hook.
        """
        return self._add_hook(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook: Callable) -> RemovableHandle:
        """Call `hook(module, args, output)` after every `forward`.

        If the hook returns something other than None, it replaces the output.

        Returns:
            A handle whose `remove()` unregisters the hook.
        """
        return self._add_hook(self._forward_hooks, hook)

    @staticmethod
    def _add_hook(hooks: OrderedDict, hook: Callable) -> RemovableHandle:
        key = next(_hook_ids)
        hooks[key] = hook
        return _HookHandle(hooks, key)

    # -- registration ------------------------------------------------------------------------

    def _check_new_name(self, name: str, kind: str, registry: dict) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
        if hasattr(self, name) and name not in registry:
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or a None placeholder, e.g. `bias=False`) under `name`.

        Raises:
            TypeError: `param` is neither a Parameter nor None.
            ValueError: `param` is not a leaf (it was computed from other tensors).
            KeyError: a bad name, or an attribute of that name already exists.
        """
        self._check_new_name(name, "parameter", self._parameters)
        if param is not None:
            if not isinstance(param, Parameter):
                raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter "
                                f"'{name}' (minigrad.nn.Parameter or None required)")
            if param.grad_fn is not None:
                raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model "
                                 "parameters must be created explicitly.")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a buffer: state that is not trained but belongs to the module (running means).

        Args:
            name: the attribute name.
            tensor: the Tensor, or None (a placeholder that `state_dict` skips).
            persistent: whether `state_dict` includes it.

        Raises:
            TypeError: `tensor` is neither a Tensor nor None.
            KeyError: a bad name, or an attribute of that name already exists.
        """
        self._check_new_name(name, "buffer", self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            "(minigrad.Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module (or a None placeholder) under `name`."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_new_name(name, "module", self._modules)
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The submodule at a dotted path, e.g. `"features.0"`; "" is the module itself."""
        module = self
        for item in target.split(".") if target else ():
            if item not in module._modules:
                raise AttributeError(f"{module._get_name()} has no attribute `{item}`")
            module = module._modules[item]
            if not isinstance(module, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return module

    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, keep=params)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                "(minigrad.nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, keep=self._modules)
            self._modules[name] = value
        elif params is not None and name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module "
                                f"'{name}' (minigrad.nn.Module or None expected)")
            self._modules[name] = None
        elif params is not None and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                "(minigrad.Tensor or None expected)")
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: dict) -> None:
        """Drop `name` from every registry but `keep` and from the plain attributes, so that a
        name is never both a parameter and a module (or a plain attribute)."""
        self.__dict__.pop(name, None)
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        self._non_persistent_buffers_set.discard(name)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: parameters, buffers and modules live here.
        state = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            values = state.get(registry)
            if values is not None and name in values:
                return values[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    # -- walking the tree --------------------------------------------------------------------

    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module and every descendant, depth first.

        The module itself comes first, named `prefix`. A module reachable twice is yielded
        once unless `remove_duplicate=False`.
        """
        if memo is None:
            memo = set()
        if id(self) in memo:
            return
        if remove_duplicate:
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            child_prefix = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, child_prefix, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        """This module and every descendant, each once."""
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) for each direct child, each module once."""
        memo = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in memo:
                memo.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry: str, prefix: str, recurse: bool,
                       remove_duplicate: bool) -> Iterator[tuple[str, Tensor]]:
        memo = set()
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                   if recurse else [(prefix, self)])
        for module_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or id(value) in memo:
                    continue
                if remove_duplicate:
                    memo.add(id(value))
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs, depth first in registration order.

        Args:
            prefix: prepended to every name.
            recurse: include the parameters of submodules (else only this module's own).
            remove_duplicate: yield a parameter shared by several modules (tied weights)
                only once, under the first name it is reached by.
        """
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter, each once (what you hand to an optimizer)."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, buffer) pairs; the arguments are those of `named_parameters`."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call `fn` on every submodule (children first), then on self; returns self.

        The usual use is custom initialisation: `model.apply(init_weights)`.
        """
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # -- modes and gradients -----------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active, batch norm on batch statistics) on this module
        and all descendants; returns self."""
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be boolean, got {mode!r}")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> Module:
        """Same as `train(False)`; returns self."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Switch gradient tracking of every parameter (freeze with False); returns self."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradient of every parameter: to None (default), or fill it with zeros."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad.detach_()
                with no_grad():
                    param.grad.zero_()

    # -- state dicts -------------------------------------------------------------------------

    def _local_state(self) -> dict:
        """This module's own parameters and persistent buffers that are not None."""
        state = {k: v for k, v in self._parameters.items() if v is not None}
        state.update((k, v) for k, v in self._buffers.items()
                     if v is not None and k not in self._non_persistent_buffers_set)
        return state

    def state_dict(self, *, destination: dict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> OrderedDict:
        """Every parameter and persistent buffer by dotted name, e.g. `"0.weight"`,
        `"bn.running_mean"`, `"bn.num_batches_tracked"`.

        Names are those of `named_parameters(remove_duplicate=False)`: a tied parameter
        appears under each of its names, as in PyTorch.

        Args:
            destination: a dict to fill (and return) instead of a new OrderedDict.
            prefix: prepended to every key.
            keep_vars: return the Parameters themselves instead of detached tensors.

        Returns:
            An OrderedDict of name -> Tensor. Unless keep_vars, the tensors are detached but
            share memory with the module's: copy them (or save them) before training on.
        """
        if destination is None:
            destination = OrderedDict()
        for name, value in self._local_state().items():
            destination[prefix + name] = value if keep_vars else value.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".",
                                  keep_vars=keep_vars)
        return destination

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True
                        ) -> _IncompatibleKeys:
        """Copy values from `state_dict` into this module's parameters and buffers, in place.

        Args:
            state_dict: name -> Tensor or NumPy array, as `state_dict()` makes them. Values
                are cast to each parameter's dtype.
            strict: require the keys to match exactly.

        Returns:
            `(missing_keys, unexpected_keys)`, a named tuple.

        Raises:
            RuntimeError: naming every problem at once: with strict=True the missing and
                unexpected keys, and always any shape mismatch (with both shapes) or value
                that is not a tensor. Nothing is copied when it raises.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got "
                            f"{type(state_dict).__name__}.")
        missing, unexpected, errors, copies = [], [], [], []
        for prefix, module in self.named_modules(remove_duplicate=False):
            module._match_state(state_dict, prefix + "." if prefix else "", missing,
                                unexpected, errors, copies)
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        with no_grad():
            for target, value in copies:
                target.copy_(value)
        return _IncompatibleKeys(missing, unexpected)

    def _match_state(self, state_dict: Mapping, prefix: str, missing: list, unexpected: list,
                     errors: list, copies: list) -> None:
        """Pair this module's own tensors with the entries of `state_dict` under `prefix`."""
        local = self._local_state()
        for name, target in local.items():
            key = prefix + name
            if key not in state_dict:
                missing.append(key)
                continue
            value = state_dict[key]
            if isinstance(value, Tensor):
                value = value.data
            elif not isinstance(value, (np.ndarray, np.generic)):
                errors.append(f'While copying the parameter named "{key}", expected a '
                              f"minigrad.Tensor or numpy.ndarray from checkpoint but received "
                              f"{type(value).__name__}")
                continue
            if value.shape != target.shape:
                errors.append(f"size mismatch for {key}: copying a param with shape "
                              f"{value.shape} from checkpoint, the shape in current model is "
                              f"{target.shape}.")
                continue
            copies.append((target, value))
        for key in state_dict:
            if not key.startswith(prefix):
                continue
            head, *rest = key[len(prefix):].split(".", 1)
            if (rest and head not in self._modules) or (not rest and head not in local):
                unexpected.append(key)

    # -- dtype conversion --------------------------------------------------------------------

    def _cast_floating(self, np_dtype: np.dtype) -> Module:
        """Cast every floating point parameter, gradient and buffer to `np_dtype` in place:
        the Parameter and buffer objects stay, their arrays are replaced."""
        tensors = [t for m in self.modules() for t in (*m._parameters.values(),
                                                       *m._buffers.values())]
        for t in tensors:
            if t is None or t.data.dtype.kind != "f":
                continue
            t.data = t.data.astype(np_dtype, copy=False)
            if t.grad is not None:
                t.grad.data = t.grad.data.astype(np_dtype, copy=False)
        return self

    def float(self) -> Module:
        """Cast floating point parameters and buffers to float32; returns self."""
        return self._cast_floating(np.dtype(np.float32))

    def double(self) -> Module:
        """Cast floating point parameters and buffers to float64; returns self."""
        return self._cast_floating(np.dtype(np.float64))

    def half(self) -> Module:
        """Cast floating point parameters and buffers to float16; returns self."""
        return self._cast_floating(np.dtype(np.float16))

    def to(self, *args: Any, dtype=None, device=None) -> Module:
        """`module.to(minigrad.float64)`, `to("cpu")`, `to(device=..., dtype=...)`: cast the
        floating point parameters and buffers in place; returns self.

        Raises:
            TypeError: a dtype that is not floating point (as PyTorch).
            RuntimeError: a device other than the CPU.
        """
        for a in args:
            if isinstance(a, (DType, np.dtype, type)):
                dtype = a
            elif isinstance(a, Tensor):
                dtype = a.dtype
            else:
                device = a
        if device is not None and str(device) != "cpu":
            raise RuntimeError(f"to(): minigrad tensors live on the CPU; device {device!r} is "
                               "not available")
        if dtype is None:
            return self
        np_dtype = to_numpy_dtype(dtype)
        if np_dtype.kind != "f":
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got desired "
                            f"dtype={from_numpy_dtype(np_dtype)!r}")
        return self._cast_floating(np_dtype)

    # -- printing ----------------------------------------------------------------------------

    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The text inside this module's parentheses in its repr (its constructor arguments);
        subclasses override it, one line per setting if they need several."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): {_addindent(repr(module), 2)}"
                       for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{self._get_name()}({body})"


class _HookHandle(RemovableHandle):
    """Removes one registration by its key, so that a function registered twice is removed
    once per handle (the base class would remove every entry holding that function)."""

    def __init__(self, hooks: OrderedDict, key: int) -> None:
        super().__init__(hooks, hooks[key])
        self._key = key

    def remove(self) -> None:
        hooks, self._hooks = self._hooks, None
        if hooks is not None:
            hooks.pop(self._key, None)
