"""`FlopCounter`: count the FLOPs of everything run inside a `with` block, forward and backward.

    with FlopCounter(model) as fc:
        loss = loss_fn(model(x), y)
        loss.backward()
    fc.forward_flops, fc.backward_flops, fc.by_op, fc.by_module

Like PyTorch's `torch.utils.flop_counter.FlopCounterMode`, it watches ops rather than layers:
an op observer (`minigrad.autograd.function.register_op_observer`) sees each op's forward
with the shapes of its arguments and looks its cost up in `formulas.FORMULAS`; the engine
calls the observer again when a node's backward runs, and the op's backward formula is
evaluated then with the gradients that backward actually returned. Ops with no formula cost
0 and are listed, by name and number of calls, in `uncounted_ops`: never silently.

Deviation from `FlopCounterMode`: it counts every op, not only matrix products and
convolutions (elementwise ops and reductions too, with the conventions in `formulas`), so
totals are a little larger than PyTorch's.
"""

from __future__ import annotations

import weakref
from collections import Counter, defaultdict

import numpy as np

from minigrad.autograd.function import Function, OpObserver, register_op_observer
from minigrad.profiler.formulas import find_formula, shapes_of
from minigrad.profiler.modules import ModuleTracker


class FlopCounter(OpObserver):
    """Count FLOPs per op and, given a model, per module, while the `with` block runs.

    Args:
        model: a `minigrad.nn.Module`; if given, each op's FLOPs are also charged to the
            innermost module whose forward is running (`by_module`); backward FLOPs go to the
            module that ran the op's forward.

    Attributes:
        forward_flops: FLOPs of the forward ops.
        backward_flops: FLOPs of the backward of the nodes the engine ran.
        by_op: op name -> FLOPs; backward entries are named like the graph node
            ("MatMulBackward").
        by_module: module name -> FLOPs (forward and backward); `""` is the model itself,
            "(outside modules)" ops run outside it (e.g. a loss).
        forward_by_module, backward_by_module: the same, split by direction.
        by_module_and_op: module name -> {op name -> FLOPs}.
        uncounted_ops: op name -> number of calls of ops with no formula (counted as 0).
    """

    def __init__(self, model=None) -> None:
        self.model = model
        self.forward_flops = 0
        self.backward_flops = 0
        self.by_op: Counter = Counter()
        self.forward_by_module: Counter = Counter()
        self.backward_by_module: Counter = Counter()
        self.by_module_and_op: defaultdict = defaultdict(Counter)
        self.uncounted_ops: Counter = Counter()
        # graph node -> (shapes of its arguments, output shape, module): what backward needs
        self._nodes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._tracker = ModuleTracker(model) if model is not None else None
        self._handle = None

    @property
    def total_flops(self) -> int:
        return self.forward_flops + self.backward_flops

    @property
    def by_module(self) -> dict:
        names = dict.fromkeys([*self.forward_by_module, *self.backward_by_module])
        return {n: self.forward_by_module[n] + self.backward_by_module[n] for n in names}

    def __enter__(self) -> FlopCounter:
        if self._tracker is not None:
            self._tracker.attach()
        self._handle = register_op_observer(self)
        return self

    def __exit__(self, *exc) -> None:
        self._handle.remove()
        if self._tracker is not None:
            self._tracker.detach()

    def _charge(self, name: str, module: str | None, flops: int, per_module: Counter) -> None:
        self.by_op[name] += flops
        if module is not None:
            per_module[module] += flops
            self.by_module_and_op[module][name] += flops

    def on_forward(self, op: type, ctx: Function, inputs: list, output: np.ndarray) -> None:
        name = op.__name__
        shapes = shapes_of(inputs)
        module = self._tracker.current if self._tracker is not None else None
        formula = find_formula(op)
        if formula is None:
            self.uncounted_ops[name] += 1
            flops = 0
        else:
            flops = int(formula.forward(shapes, output.shape))
        self.forward_flops += flops
        self._charge(name, module, flops, self.forward_by_module)
        if ctx._recording:  # a graph node: its backward may run later
            self._nodes[ctx] = (shapes, output.shape, module)

    def on_backward(self, node: Function, grad_output: np.ndarray, grad_inputs: tuple) -> None:
        name = node.name()
        record = self._nodes.get(node)
        formula = find_formula(type(node))
        if record is None or formula is None:
            # no formula, or the forward ran before this counter: nothing to compute it from
            self.uncounted_ops[name] += 1
            return
        shapes, out_shape, module = record
        needs = tuple(g is not None for g in grad_inputs)
        flops = int(formula.backward(shapes, out_shape, needs))
        self.backward_flops += flops
        self._charge(name, module, flops, self.backward_by_module)

    def __repr__(self) -> str:
        return (f"FlopCounter(forward_flops={self.forward_flops}, "
                f"backward_flops={self.backward_flops}, uncounted_ops={dict(self.uncounted_ops)})")
