"""minigrad.models.GPT: shapes, parameter counts, tying, causality, init, generate, errors."""

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.models import GPT, GPTConfig
from minigrad.models.gpt import _sample
from minigrad.optim import Adam

TINY = {"vocab_size": 11, "block_size": 8, "n_layer": 2, "n_head": 2, "n_embd": 16}


def gpt_parameter_count(V: int, T: int, L: int, C: int, bias: bool = True) -> int:
    """Tied wte/lm_head V C + wpe T C + L blocks + ln_f.

    A block: c_attn C 3C (+3C), attn.c_proj C C (+C), c_fc C 4C (+4C), mlp.c_proj 4C C (+C),
    ln_1 and ln_2 C weights (+C biases) each: 12 C^2 + 13 C with biases, 12 C^2 + 2 C without.
    """
    block = 12 * C * C + (13 * C if bias else 2 * C)
    return V * C + T * C + L * block + (2 * C if bias else C)


def tiny(**overrides) -> GPT:
    mg.manual_seed(0)
    return GPT(GPTConfig(**{**TINY, **overrides}))


def ids(*shape, high=11, seed=0) -> mg.Tensor:
    return mg.tensor(np.random.default_rng(seed).integers(0, high, shape), dtype=mg.int64)


def test_logits_shape_and_no_loss_without_targets():
    logits, loss = tiny()(ids(3, 5))
    assert logits.shape == (3, 5, 11) and logits.dtype == mg.float32
    assert loss is None


def test_loss_at_init_is_near_log_vocab():
    """Weights ~ N(0, 0.02) make the logits nearly equal, so the loss is about ln(11)."""
    _, loss = tiny()(ids(4, 8), ids(4, 8, seed=1))
    assert loss.shape == ()
    assert abs(loss.item() - math.log(11)) < 0.05


def test_loss_is_mean_cross_entropy_over_all_positions_ignoring_minus_one():
    model = tiny()
    idx, targets = ids(2, 6), ids(2, 6, seed=1).numpy()
    targets[0, :3] = -1
    logits, loss = model(idx, mg.tensor(targets))
    z = logits.detach().numpy().astype(np.float64).reshape(-1, 11)
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    keep = targets.reshape(-1) != -1
    expected = -log_probs[keep, targets.reshape(-1)[keep]].mean()
    assert math.isclose(loss.item(), expected, rel_tol=1e-5)


@pytest.mark.parametrize("bias", [True, False])
def test_parameter_count_matches_formula(bias):
    model = tiny(bias=bias)
    total = gpt_parameter_count(11, 8, 2, 16, bias)
    assert sum(p.numel() for p in model.parameters()) == total
    assert model.num_parameters(non_embedding=False) == total
    assert model.num_parameters() == total - 8 * 16


def test_names_match_nanogpt():
    model = tiny(n_layer=1)
    assert list(model.state_dict()) == [
        "transformer.wte.weight", "transformer.wpe.weight",
        "transformer.h.0.ln_1.weight", "transformer.h.0.ln_1.bias",
        "transformer.h.0.attn.c_attn.weight", "transformer.h.0.attn.c_attn.bias",
        "transformer.h.0.attn.c_proj.weight", "transformer.h.0.attn.c_proj.bias",
        "transformer.h.0.ln_2.weight", "transformer.h.0.ln_2.bias",
        "transformer.h.0.mlp.c_fc.weight", "transformer.h.0.mlp.c_fc.bias",
        "transformer.h.0.mlp.c_proj.weight", "transformer.h.0.mlp.c_proj.bias",
        "transformer.ln_f.weight", "transformer.ln_f.bias", "lm_head.weight",
    ]


def test_weight_tying_is_one_parameter():
    model = tiny()
    assert model.lm_head.weight is model.transformer.wte.weight
    assert isinstance(model.lm_head.weight, nn.Parameter)
    names = [name for name, _ in model.named_parameters()]
    assert "transformer.wte.weight" in names and "lm_head.weight" not in names
    assert sum(p is model.lm_head.weight for p in model.parameters()) == 1


def test_tied_gradient_is_the_sum_of_both_uses():
    model = tiny()
    idx, targets = ids(2, 8), ids(2, 8, seed=1)
    model(idx, targets)[1].backward()
    tied_grad = model.lm_head.weight.grad.numpy().copy()
    # untie: lm_head gets its own copy of the same values; the gradients then split in two
    model.zero_grad()
    model.lm_head.weight = nn.Parameter(model.transformer.wte.weight.detach().clone())
    model(idx, targets)[1].backward()
    embedding_grad = model.transformer.wte.weight.grad.numpy()
    head_grad = model.lm_head.weight.grad.numpy()
    assert np.abs(embedding_grad).max() > 0 and np.abs(head_grad).max() > 0
    np.testing.assert_allclose(tied_grad, embedding_grad + head_grad, rtol=1e-5, atol=1e-8)


def test_init_follows_nanogpt():
    model = tiny(n_layer=4, n_embd=64, n_head=4)
    block = model.transformer.h[0]
    assert math.isclose(block.attn.c_attn.weight.detach().numpy().std(), 0.02, rel_tol=0.05)
    assert math.isclose(model.transformer.wpe.weight.detach().numpy().std(), 0.02, rel_tol=0.1)
    residual_std = 0.02 / math.sqrt(2 * 4)
    for weight in (block.attn.c_proj.weight, block.mlp.c_proj.weight):
        assert math.isclose(weight.detach().numpy().std(), residual_std, rel_tol=0.05)
    assert not block.mlp.c_fc.bias.detach().numpy().any()
    np.testing.assert_array_equal(block.ln_1.weight.detach().numpy(), 1)


def test_init_is_reproducible_under_manual_seed():
    a, b = tiny(), tiny()
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        np.testing.assert_array_equal(pa.numpy(), pb.numpy(), err_msg=name)


def test_changing_a_future_token_leaves_earlier_logits_unchanged():
    model = tiny()
    idx = ids(2, 8).numpy()
    changed = idx.copy()
    changed[:, 5] = (changed[:, 5] + 1) % 11
    before = model(mg.tensor(idx))[0].detach().numpy()
    after = model(mg.tensor(changed))[0].detach().numpy()
    np.testing.assert_array_equal(before[:, :5], after[:, :5])
    assert not np.allclose(before[:, 5:], after[:, 5:])


def test_dropout_only_in_training():
    model = tiny(dropout=0.2)
    idx = ids(2, 8)
    assert not np.allclose(model(idx)[0].detach().numpy(), model(idx)[0].detach().numpy())
    model.eval()
    np.testing.assert_array_equal(model(idx)[0].detach().numpy(), model(idx)[0].detach().numpy())


def test_forward_errors_name_the_problem():
    model = tiny()
    with pytest.raises(ValueError, match="length 9: block_size is only 8"):
        model(ids(1, 9))
    with pytest.raises(ValueError, match=r"2-D int64 tensor \(B, T\), got shape \(4,\)"):
        model(ids(4))
    with pytest.raises(ValueError, match="dtype float32"):
        model(mg.zeros(2, 3))
    with pytest.raises(TypeError, match="got ndarray"):
        model(np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(ValueError, match=r"targets must have idx's shape \(2, 3\), got \(2, 4\)"):
        model(ids(2, 3), ids(2, 4))


def test_config_errors():
    with pytest.raises(ValueError, match=r"n_embd \(10\) must be divisible by n_head \(3\)"):
        GPTConfig(vocab_size=5, block_size=4, n_layer=1, n_head=3, n_embd=10)
    with pytest.raises(ValueError, match="n_layer must be a positive int, got 0"):
        GPTConfig(vocab_size=5, block_size=4, n_layer=0, n_head=1, n_embd=8)
    with pytest.raises(ValueError, match="dropout must be in"):
        GPTConfig(vocab_size=5, block_size=4, n_layer=1, n_head=1, n_embd=8, dropout=1.0)


def test_generate_appends_tokens_and_keeps_the_prompt():
    model = tiny()
    prompt = ids(3, 2)
    out = model.generate(prompt, max_new_tokens=12)  # 14 > block_size: the context is cropped
    assert out.shape == (3, 14) and out.dtype == mg.int64
    np.testing.assert_array_equal(out.numpy()[:, :2], prompt.numpy())
    assert out.numpy().min() >= 0 and out.numpy().max() < 11
    assert not out.requires_grad and model.lm_head.weight.grad is None
    assert model.generate(prompt, 0).shape == (3, 2)


def test_generate_is_deterministic_under_manual_seed_and_generator():
    model = tiny()
    prompt = ids(2, 3)
    mg.manual_seed(7)
    first = model.generate(prompt, 10).numpy()
    mg.manual_seed(7)
    np.testing.assert_array_equal(model.generate(prompt, 10).numpy(), first)
    a = model.generate(prompt, 10, generator=mg.Generator(3)).numpy()
    b = model.generate(prompt, 10, generator=mg.Generator(3)).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, model.generate(prompt, 10, generator=mg.Generator(4)).numpy())


def test_top_k_1_is_greedy_argmax_decoding():
    model = tiny()
    tokens = ids(2, 3).numpy()
    for _ in range(10):
        logits, _ = model(mg.tensor(tokens[:, -8:]))
        next_token = logits.detach().numpy()[:, -1].argmax(-1)
        tokens = np.concatenate([tokens, next_token[:, None]], axis=1)
    greedy = model.generate(ids(2, 3), 10, temperature=0.5, top_k=1).numpy()
    np.testing.assert_array_equal(greedy, tokens)


def test_sample_follows_softmax_of_scores_over_temperature():
    scores = np.log(np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]]))
    rng = np.random.default_rng(0)
    draws = np.stack([_sample(scores, None, rng) for _ in range(20000)])
    for row, probabilities in enumerate(np.exp(scores)):
        frequencies = np.bincount(draws[:, row], minlength=3) / len(draws)
        np.testing.assert_allclose(frequencies, probabilities, atol=0.015)


def test_sample_top_k_draws_only_the_k_largest():
    scores = np.array([[0.0, 3.0, 1.0, 2.0, -1.0]])
    rng = np.random.default_rng(0)
    drawn = {int(_sample(scores, 2, rng)[0]) for _ in range(500)}
    assert drawn == {1, 3}
    assert {int(_sample(scores, 99, rng)[0]) for _ in range(500)} == {0, 1, 2, 3, 4}


def test_generate_errors():
    model = tiny()
    with pytest.raises(ValueError, match="temperature must be > 0, got 0"):
        model.generate(ids(1, 2), 3, temperature=0)
    with pytest.raises(ValueError, match="top_k must be >= 1 or None, got 0"):
        model.generate(ids(1, 2), 3, top_k=0)
    with pytest.raises(ValueError, match="at least one token"):
        model.generate(ids(1, 0), 3)
    with pytest.raises(ValueError, match="max_new_tokens must be >= 0, got -1"):
        model.generate(ids(1, 2), -1)


def test_a_few_adam_steps_lower_the_loss():
    model = tiny()
    sequence = np.tile(np.arange(9), (4, 1))  # learn "count up": token t+1 follows t
    idx, targets = mg.tensor(sequence[:, :-1]), mg.tensor(sequence[:, 1:])
    optimizer = Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(20):
        _, loss = model(idx, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]
