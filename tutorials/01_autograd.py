# %% [markdown]
# # 01 - Autograd: the chain rule, done by a machine
#
# This tutorial builds a tiny computation, differentiates it by hand with the chain rule,
# then lets minigrad's autograd engine do it, and checks that the two agree. Then it looks at
# what the engine does around that: gradients that accumulate, gradients of broadcasting,
# writing your own differentiable op, switching recording off, and hooks.
#
# Run it as a script (`python tutorials/01_autograd.py`) or open it as a notebook: every
# `# %%` line starts a cell (VS Code, PyCharm and Jupytext read this format).
#
# The names are PyTorch's: replace `minigrad` by `torch` and nearly every line runs there too.

# %%
import numpy as np

import minigrad as mg
from minigrad.autograd import Function, gradcheck

np.set_printoptions(precision=6)
mg.manual_seed(0)  # the random tensors below are the same on every run

# %% [markdown]
# ## 1. A small graph, differentiated by hand
#
# Take f(x, y) = tanh(x y + x). Name the inner part u = x y + x, so f = tanh(u).
# The chain rule says df/dx = df/du * du/dx and df/dy = df/du * du/dy, with
#
# - df/du = 1 - tanh(u)^2  (the derivative of tanh),
# - du/dx = y + 1,
# - du/dy = x.

# %%
x_value, y_value = 0.8, -0.6
u = x_value * y_value + x_value
df_du = 1 - np.tanh(u) ** 2
by_hand = np.array([df_du * (y_value + 1), df_du * x_value])
print(f"u = {u:.6f}, f = tanh(u) = {np.tanh(u):.6f}")
print("by hand:     df/dx, df/dy =", by_hand)

# %% [markdown]
# ## 2. The same gradient from the engine
#
# Leaves created with `requires_grad=True` make every op on them record a node of the graph.
# `f.backward()` walks that graph from f back to the leaves, applying each node's local
# derivative (exactly the three factors above), and leaves df/dx in `x.grad`, df/dy in
# `y.grad`.

# %%
x = mg.tensor(x_value, dtype=mg.float64, requires_grad=True)
y = mg.tensor(y_value, dtype=mg.float64, requires_grad=True)
f = (x * y + x).tanh()
print("f =", f)                  # grad_fn names the last op: the root of the graph
f.backward()
by_engine = np.array([x.grad.item(), y.grad.item()])
print("by autograd: df/dx, df/dy =", by_engine)
assert np.allclose(by_hand, by_engine)

# %% [markdown]
# The graph is made of `Function` nodes. Each remembers where its inputs came from
# (`next_functions`, PyTorch's name); a leaf shows up as the tensor itself.

# %%
print(f.grad_fn, "<-", f.grad_fn.next_functions)

# %% [markdown]
# ## 3. Gradients accumulate
#
# `backward()` *adds* into `.grad`; it does not overwrite it. That is what you want when a
# parameter is used in several places, or when you sum gradients over several small batches
# before one optimizer step. It also means you must reset `.grad` between steps, with
# `x.grad = None` (what `optimizer.zero_grad()` does in PyTorch) or `x.grad.zero_()`.

# %%
x.grad = None
y.grad = None
for i in range(3):
    (x * y + x).tanh().backward()  # a fresh graph each time: backward frees the old one
    print(f"after backward #{i + 1}: x.grad = {x.grad.item():.6f}")
assert np.isclose(x.grad.item(), 3 * by_hand[0])

x.grad.zero_()
print("after x.grad.zero_():", x.grad.item())

# %% [markdown]
# ## 4. Broadcasting's gradient is a sum
#
# Adding a bias of shape (4,) to a batch of shape (3, 4) uses each bias element three times,
# once per row. By the chain rule its gradient is the *sum* of the three output gradients
# that element fed. The same holds for any broadcast axis: the gradient of a broadcast input
# is the output gradient summed over the axes it was stretched along. minigrad does this in
# one helper, `minigrad.autograd.unbroadcast`, for every op.

# %%
batch = mg.randn(3, 4, dtype=mg.float64, requires_grad=True)
bias = mg.zeros(4, dtype=mg.float64, requires_grad=True)
scale = mg.ones(3, 1, dtype=mg.float64, requires_grad=True)
weights = mg.tensor([[1.0, 2.0, 3.0, 4.0]] * 3, dtype=mg.float64)  # dL/d(out), chosen to see it
out = (batch + bias) * scale
(out * weights).sum().backward()
print("bias.grad  =", bias.grad.numpy(), " shape", bias.grad.shape)
print("scale.grad =", scale.grad.numpy().ravel(), " shape", scale.grad.shape)
assert bias.grad.shape == (4,) and scale.grad.shape == (3, 1)
assert np.allclose(bias.grad.numpy(), weights.numpy().sum(axis=0))
expected_scale = ((batch.detach() + bias.detach()) * weights).numpy().sum(axis=1, keepdims=True)
assert np.allclose(scale.grad.numpy(), expected_scale)

# %% [markdown]
# ## 5. Your own op: a `Function` subclass
#
# Every op in minigrad is a `Function` with `forward` and `backward` side by side. Both see
# NumPy arrays (a small deviation from PyTorch, where they see tensors). `ctx` carries what
# backward needs from forward. Here is x^3, whose derivative is 3x^2:

# %%
class Cube(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a**3

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * 3 * a**2


def cube(t: mg.Tensor) -> mg.Tensor:
    return Cube.apply(t)


t = mg.tensor([-2.0, 0.5, 3.0], dtype=mg.float64, requires_grad=True)
cube(t).sum().backward()
print("d(sum x^3)/dx =", t.grad.numpy(), "= 3x^2 =", 3 * t.detach().numpy() ** 2)

# %% [markdown]
# A hand-written backward is easy to get wrong, so check it numerically. `gradcheck` nudges
# each input element by +-eps and compares the central difference (f(x+eps) - f(x-eps)) / 2eps
# with what backward returns. It wants float64: in float32, rounding error would swamp the
# difference. A backward with a bug (here: forgetting the factor 3) is caught.

# %%
inputs = mg.randn(5, dtype=mg.float64, requires_grad=True)
print("gradcheck(cube):", gradcheck(cube, (inputs,)))


class CubeWithABug(Cube):
    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * a**2


print("gradcheck(buggy cube):", gradcheck(CubeWithABug.apply, (inputs,), raise_exception=False))

# %% [markdown]
# ## 6. Switching recording off: `no_grad`
#
# Recording costs memory: each node keeps what its backward needs. When no backward will come
# (evaluation, or the optimizer's own update of the weights) wrap the code in
# `with minigrad.no_grad():`. Results then have no `grad_fn` and do not require grad.

# %%
w = mg.randn(3, requires_grad=True)
with mg.no_grad():
    evaluated = w * 2
print("inside no_grad: requires_grad =", evaluated.requires_grad, ", grad_fn =",
      evaluated.grad_fn)
recorded = w * 2
print("outside:        requires_grad =", recorded.requires_grad, ", grad_fn =", recorded.grad_fn)
assert evaluated.grad_fn is None and recorded.grad_fn is not None

# %% [markdown]
# ## 7. Hooks: seeing (and changing) a gradient as it flows
#
# Only leaves keep their `.grad`; the gradient of an intermediate tensor is passed on and
# dropped. A hook registered on a tensor is called with that gradient when backward computes
# it, and may return a replacement. minigrad's data-parallel training rests on this: a hook
# on each parameter starts averaging its gradient across machines while backward continues.

# %%
a = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
h = a * a                                 # dh/da = 2a
seen = []
handle = h.register_hook(lambda grad: seen.append(grad.numpy().copy()))
doubler = a.register_hook(lambda grad: grad * 2)  # on a leaf: runs before .grad is updated
h.sum().backward()
print("gradient seen at h:", seen[0])
print("a.grad (2a, doubled by the hook):", a.grad.numpy())
assert np.allclose(a.grad.numpy(), 2 * 2 * a.detach().numpy())

handle.remove()
doubler.remove()
a.grad = None
(a * a).sum().backward()
print("after removing the hooks, a.grad =", a.grad.numpy())
assert np.allclose(a.grad.numpy(), 2 * a.detach().numpy())

# %% [markdown]
# ## What next
#
# You have seen the whole contract of autograd: ops record a graph, `backward()` applies the
# chain rule through it in reverse, leaves accumulate `.grad`, and each op supplies its local
# derivative. `docs/concepts/autograd.md` walks through the engine's code. Run
# `minigrad demo` to see these pieces train a small network.
