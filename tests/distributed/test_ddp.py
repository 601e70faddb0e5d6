"""DistributedDataParallel under `mpiexec -n 2, 3, 4`: the issue's equivalence test (N ranks with
batch B/N each end with the parameters of one process with batch B, after 20 steps, for SGD
and Adam, with and without no_sync accumulation), the options that must not change the result
(overlap, one parameter per bucket, gradients as bucket views, every all-reduce algorithm),
unused parameters, buffers, and mismatched models. Each world size is one mpiexec launch of
workers/ddp_cases.py, which prints one JSON line per case from rank 0."""

import json

import pytest

from tests.distributed.mpi_launch import run_mpi

WORLD_SIZES = [2, 3, 4]


@pytest.fixture(scope="module", params=WORLD_SIZES, ids=[f"P={p}" for p in WORLD_SIZES])
def cases(request):
    result = run_mpi(request.param, "ddp_cases.py", timeout=120)
    assert result.returncode == 0, f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines and all(line["world_size"] == request.param for line in lines)
    return lines


def _equivalence(cases):
    return [c for c in cases if "case" not in c]


def test_ddp_matches_one_process_with_the_whole_batch(cases):
    """float64: the only difference left is the order of floating point additions."""
    checked = [c for c in _equivalence(cases) if c["dtype"] == "float64"]
    assert {(c["optimizer"], c["micro_batches"]) for c in checked} == {
        ("sgd", 1), ("sgd", 2), ("adam", 1), ("adam", 2)}
    for case in checked:
        assert case["max_diff"] < 1e-12, case
        assert case["same_on_every_rank"], case


def test_options_do_not_change_the_result(cases):
    """overlap=False, one parameter per bucket, gradient_as_bucket_view and each all-reduce
    algorithm give the same parameters (float64, 20 steps)."""
    options = [c for c in _equivalence(cases) if c["options"]]
    assert {"overlap", "bucket_cap_mb", "gradient_as_bucket_view", "algorithm"} <= {
        key for c in options for key in c["options"]}
    assert {c["options"].get("algorithm") for c in options} >= {
        "ring", "rabenseifner", "recursive_doubling", "tree", "mpi"}
    for case in options:
        assert case["max_diff"] < 1e-12 and case["same_on_every_rank"], case


def test_float32_stays_within_the_issue_tolerance(cases):
    (case,) = [c for c in _equivalence(cases) if c["dtype"] == "float32"]
    assert case["max_diff"] < 1e-5 and case["same_on_every_rank"], case


def test_unused_parameter_is_an_error_on_every_rank(cases):
    (case,) = [c for c in cases if c.get("case") == "unused without find_unused_parameters"]
    assert "received no gradient in this backward pass: never.weight, never.bias" in \
        case["error"]
    assert "find_unused_parameters=True" in case["error"]
    assert case["errors_on_ranks"] == [1] * case["world_size"]


def test_find_unused_parameters_reduces_zeros_for_a_rank_that_skipped_a_branch(cases):
    """`extra` is used on rank 0 only: its averaged gradient is rank 0's divided by N, the
    gradient of one process summing the per-rank losses over N; `never` keeps grad None."""
    (case,) = [c for c in cases if c.get("case") == "find_unused_parameters"]
    assert case["grads_of"] == ["body.bias", "body.weight", "extra.bias", "extra.weight"]
    assert case["max_diff"] < 1e-12
    assert case["never_grad_is_none"] and case["same_on_every_rank"]


def test_buffers_are_broadcast_from_rank_0(cases):
    (case,) = [c for c in cases if c.get("case") == "broadcast_buffers"]
    assert case["same_on_every_rank"] and case["num_batches_tracked"] == 4


def test_ddp_over_a_sub_group_broadcasts_from_its_first_member(cases):
    """World ranks 1 .. N-1 train with DDP over their own group (rank 0 stays out): the
    broadcast source is world rank 1 (the group's rank 0; naming world rank 0 would be an
    error), the later members start from other seeds, and the result is one process's."""
    (case,) = [c for c in cases if c.get("case") == "subgroup"]
    assert case["members"] == case["world_size"] - 1
    assert case["max_diff"] < 1e-12 and case["same_on_every_rank"], case


@pytest.mark.parametrize("kind, expected", [
    ("shape", ("ranks 0, 1: parameter '2.weight' of shape (3, 8) and dtype float32; rank 2: "
               "parameter '2.weight' of shape (5, 8) and dtype float32")),
    ("count", ("ranks 0, 1: nothing (only 4 parameters and buffers); rank 2: parameter "
               "'3.weight' of shape (3, 3) and dtype float32")),
])
def test_mismatched_models_raise_the_same_error_on_every_rank(kind, expected):
    result = run_mpi(3, "ddp_mismatch.py", kind, "catch", timeout=60)
    for rank in range(3):
        line = next(x for x in result.stdout.splitlines() if x.startswith(f"rank {rank}: "))
        assert "the model is not the same on every rank" in line and expected in line, line


def test_an_uncaught_mismatch_ends_the_job_with_the_message():
    result = run_mpi(2, "ddp_mismatch.py", "shape", "raise", timeout=60)
    assert result.returncode != 0
    assert "minigrad.distributed: rank" in result.stderr
    assert "RuntimeError: DistributedDataParallel: the model is not the same on every rank" \
        in result.stderr


def test_mismatched_dtype_and_names_are_named_too():
    for kind, expected in [("dtype", ("rank 1: parameter '0.weight' of shape (8, 4) and "
                                      "dtype float64")),
                           ("name", "rank 1: parameter '2.0.weight'")]:
        result = run_mpi(2, "ddp_mismatch.py", kind, "catch", timeout=60)
        assert result.stdout.count(expected) == 2, result.stdout  # printed by both ranks
