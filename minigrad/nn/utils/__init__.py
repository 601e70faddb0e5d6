"""`minigrad.nn.utils`: helpers that work on a model's parameters, as `torch.nn.utils`.

- `clip_grad`: `clip_grad_norm_` (and its two halves `get_total_norm`,
  `clip_grads_with_norm_`) and `clip_grad_value_`, which bound gradients before a step;
- `convert_parameters`: `parameters_to_vector` and `vector_to_parameters`, which view all
  parameters as one flat vector (for second-order methods, or to measure a model's distance
  from another).

Pruning (`minigrad.nn.utils.prune`) will be a module of this package too.
"""

from minigrad.nn.utils.clip_grad import (
                                         clip_grad_norm_,
                                         clip_grad_value_,
                                         clip_grads_with_norm_,
                                         get_total_norm,
)
from minigrad.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm",
           "parameters_to_vector", "vector_to_parameters"]
