"""The `Optimizer` base: parameter groups, zero_grad, closures, checkpoints, in-place updates."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.optim import SGD, Adam, Optimizer


def leaf(values, dtype=None):
    return mg.tensor(values, dtype=dtype, requires_grad=True)


def with_grad(values, grad, dtype=None):
    p = leaf(values, dtype)
    p.grad = mg.tensor(grad, dtype=p.dtype)
    return p


# -- construction and parameter groups --------------------------------------------------------


def test_a_list_of_tensors_makes_one_group_with_every_default():
    a, b = leaf([1.0]), leaf([2.0, 3.0])
    opt = SGD([a, b], lr=0.5, momentum=0.9)
    assert len(opt.param_groups) == 1
    group = opt.param_groups[0]
    assert group["params"][0] is a and group["params"][1] is b
    assert [id(p) for p in group.pop("params")] == [id(a), id(b)]
    assert group == {"lr": 0.5, "momentum": 0.9, "dampening": 0,
                     "weight_decay": 0, "nesterov": False, "maximize": False}
    assert opt.defaults["lr"] == 0.5


def test_group_dicts_override_defaults_and_keep_their_own_keys():
    a, b = leaf([1.0]), leaf([2.0])
    opt = SGD([{"params": [a], "lr": 0.1}, {"params": b, "tag": "bias"}], lr=0.01)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert opt.param_groups[1]["params"] == [b] and opt.param_groups[1]["tag"] == "bias"


def test_named_parameters_keep_their_names():
    a, b = leaf([1.0]), leaf([2.0])
    opt = SGD([("w", a), ("b", b)])
    assert opt.param_groups[0]["param_names"] == ["w", "b"]
    assert [id(p) for p in opt.param_groups[0]["params"]] == [id(a), id(b)]


def test_constructor_errors():
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        SGD([])
    with pytest.raises(TypeError, match="iterable of Tensors or dicts, but got .*Tensor"):
        SGD(leaf([1.0]))
    with pytest.raises(TypeError, match=r"optimizer can only optimize Tensors, but one of the "
                                        r"params \(index 1\) is numpy.ndarray"):
        SGD([leaf([1.0]), np.zeros(2)])
    with pytest.raises(ValueError, match=r"can't optimize a non-leaf Tensor \(param 0, shape \(2,\)"):
        SGD([leaf([1.0, 2.0]) * 2])
    with pytest.raises(TypeError, match="ordered collections"):
        SGD([{"params": {leaf([1.0])}}])
    with pytest.raises(ValueError, match="Some param names are missing"):
        SGD([("w", leaf([1.0])), leaf([2.0])])


def test_add_param_group_adds_a_group_with_defaults():
    a, b = leaf([1.0]), leaf([2.0])
    opt = Adam([a], lr=1e-3)
    opt.add_param_group({"params": [b], "lr": 1e-2})
    assert len(opt.param_groups) == 2
    assert opt.param_groups[1]["lr"] == 1e-2 and opt.param_groups[1]["betas"] == (0.9, 0.999)


def test_a_parameter_in_two_groups_is_an_error_naming_it():
    a, b = leaf([1.0]), leaf([[2.0, 3.0]])
    opt = SGD([{"params": [a]}, {"params": [b]}])
    with pytest.raises(ValueError, match=r"some parameters appear in more than one parameter "
                                         r"group: parameter at index 1 of the new group \(shape "
                                         r"\(1, 2\)\) is already in param group 1"):
        opt.add_param_group({"params": [leaf([0.0]), b]})
    named = SGD([("encoder.w", a)])
    with pytest.raises(ValueError, match="parameter 'head.w' of the new group"):
        named.add_param_group({"params": [("head.w", a)]})
    with pytest.raises(ValueError, match="should be with/without names"):
        named.add_param_group({"params": [leaf([1.0])]})


def test_add_param_group_errors():
    opt = SGD([leaf([1.0])])
    with pytest.raises(TypeError, match="param_group must be a dict, but got <class 'list'>"):
        opt.add_param_group([leaf([1.0])])
    with pytest.raises(KeyError, match=r"no 'params' key; got keys \['lr'\]"):
        opt.add_param_group({"lr": 0.1})


def test_duplicate_parameters_in_a_group_warn_as_in_pytorch():
    a = leaf([1.0])
    with pytest.warns(UserWarning, match="duplicate parameters"):
        SGD([a, a])


def test_base_step_is_abstract():
    with pytest.raises(NotImplementedError, match="Optimizer does not implement step"):
        Optimizer([leaf([1.0])], {"lr": 0.1}).step()


# -- zero_grad, closures, skipping ------------------------------------------------------------


def test_zero_grad_sets_to_none_by_default_or_fills_zeros():
    p = leaf([1.0, 2.0])
    (p * p).sum().backward()
    grad = p.grad
    opt = SGD([p])
    opt.zero_grad(set_to_none=False)
    assert p.grad is grad
    np.testing.assert_array_equal(p.grad.numpy(), [0.0, 0.0])
    opt.zero_grad()
    assert p.grad is None


def test_step_skips_parameters_without_a_gradient():
    a, b = with_grad([1.0], [1.0]), leaf([5.0])
    opt = Adam([a, b], lr=0.1)
    opt.step()
    assert b.numpy(force=True).tolist() == [5.0] and b._version == 0
    assert list(opt.state) == [a]


def test_closure_is_evaluated_with_grad_enabled_and_its_loss_returned():
    p = leaf([3.0])
    opt = SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        assert mg.is_grad_enabled()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with mg.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0
    np.testing.assert_allclose(p.numpy(force=True), [3.0 - 0.1 * 6.0], rtol=1e-6)
    assert opt.step() is None


# -- updates in place and the version counter -------------------------------------------------


def test_step_updates_the_same_array_in_place_and_bumps_the_version():
    p = with_grad([1.0, 2.0], [1.0, 1.0])
    array, version = p.data, p._version
    SGD([p], lr=0.5).step()
    assert p.data is array
    np.testing.assert_array_equal(array, [0.5, 1.5])
    assert p._version == version + 1
    assert p.grad_fn is None and p.is_leaf


def test_a_graph_built_before_the_update_refuses_to_backward():
    p = leaf([1.0, 2.0])
    opt = SGD([p], lr=0.1)
    loss = (p * p).sum()  # Mul saved p's values
    (p * 1).sum().backward()
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_training_loop_forward_backward_after_updates_works():
    w = leaf([[1.0, -1.0], [0.5, 2.0]])
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    opt = Adam([w], lr=0.05)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = ((x @ w) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
    assert w._version == 30


# -- state_dict / load_state_dict -------------------------------------------------------------


def trained_adam(dtype=None):
    a, b, c = leaf([1.0, 2.0], dtype), leaf([[3.0]], dtype), leaf([4.0], dtype)
    opt = Adam([{"params": [a, b], "lr": 0.1}, {"params": [c], "amsgrad": True}], lr=0.01)
    for _ in range(3):
        a.grad = mg.tensor([1.0, -1.0], dtype=a.dtype)
        c.grad = mg.tensor([2.0], dtype=c.dtype)
        opt.step()
    return opt, (a, b, c)


def test_state_dict_replaces_parameters_by_their_index():
    opt, (a, _, _) = trained_adam()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][0]["lr"] == 0.1 and sd["param_groups"][1]["amsgrad"] is True
    assert sorted(sd["state"]) == [0, 2]  # b never had a gradient: no state
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert set(sd["state"][2]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert sd["state"][0]["step"] == 3 and type(sd["state"][0]["step"]) is int
    assert isinstance(sd["state"][0]["exp_avg"], mg.Tensor)
    assert sd["state"][0]["exp_avg"] is opt.state[a]["exp_avg"]  # live, as in PyTorch
    assert opt.param_groups[0]["params"][0] is a  # the optimizer itself is unchanged


def test_load_state_dict_copies_and_casts_arrays_and_restores_types():
    opt, params = trained_adam(dtype=mg.float64)
    sd = opt.state_dict()
    on_disk = {  # what a checkpoint reader returns: arrays, numpy scalars, lists
        "state": {str(i): {k: (np.asarray(v.data, dtype=np.float32) if isinstance(v, mg.Tensor)
                               else np.array(float(v)))
                           for k, v in s.items()} for i, s in sd["state"].items()},
        "param_groups": [{**g, "lr": np.float64(g["lr"]), "betas": list(g["betas"])}
                         for g in sd["param_groups"]],
    }
    fresh_params = [leaf(p.data) for p in params]
    fresh = Adam([{"params": fresh_params[:2]}, {"params": fresh_params[2:]}], lr=0.5)
    fresh.load_state_dict(on_disk)
    state = fresh.state[fresh_params[2]]
    assert state["step"] == 3 and type(state["step"]) is int
    assert state["exp_avg"].dtype == mg.float64
    np.testing.assert_allclose(state["exp_avg"].numpy(), opt.state[params[2]]["exp_avg"].numpy(),
                               rtol=1e-6)
    assert state["exp_avg"].data is not on_disk["state"]["2"]["exp_avg"]
    group = fresh.param_groups[0]
    assert [id(p) for p in group["params"]] == [id(p) for p in fresh_params[:2]]
    assert type(group["lr"]) is float and group["lr"] == 0.1
    assert group["betas"] == (0.9, 0.999) and isinstance(group["betas"], tuple)
    assert fresh.param_groups[1]["amsgrad"] is True


def test_load_state_dict_deep_copies_so_the_source_keeps_its_values():
    opt, params = trained_adam()
    fresh_params = [leaf(p.data) for p in params]
    fresh = Adam([{"params": fresh_params[:2]}, {"params": fresh_params[2:]}])
    fresh.load_state_dict(opt.state_dict())
    before = opt.state[params[0]]["exp_avg"].numpy().copy()
    fresh_params[0].grad = mg.tensor([5.0, 5.0])
    fresh.step()
    np.testing.assert_array_equal(opt.state[params[0]]["exp_avg"].numpy(), before)
    assert fresh.state[fresh_params[0]]["step"] == 4 and opt.state[params[0]]["step"] == 3


def test_load_state_dict_errors_name_what_differs():
    opt, params = trained_adam()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups: 2 saved, "
                                         "the optimizer has 1"):
        Adam(list(params)).load_state_dict(sd)
    with pytest.raises(ValueError, match="group 0 has 2 saved parameters, the optimizer's has 1"):
        Adam([{"params": list(params[:1])}, {"params": list(params[1:])}]).load_state_dict(sd)
    other = Adam([{"params": [leaf([0.0, 0.0]), leaf([[0.0]])]}, {"params": [leaf([0.0, 1.0])]}])
    with pytest.raises(ValueError, match=r"state 'exp_avg' of parameter 2 has shape \(1,\), but "
                                         r"the parameter has shape \(2,\)"):
        other.load_state_dict(sd)
    with pytest.raises(KeyError, match="no 'state' key"):
        opt.load_state_dict({"param_groups": sd["param_groups"]})


def test_repr_lists_each_group_like_pytorch():
    opt = SGD([leaf([1.0])], lr=0.1, momentum=0.9)
    assert repr(opt) == ("SGD (\nParameter Group 0\n    dampening: 0\n    lr: 0.1\n"
                         "    maximize: False\n    momentum: 0.9\n    nesterov: False\n"
                         "    weight_decay: 0\n)")
