"""Every collective x algorithm x op x dtype x length, checked against NumPy on every rank.

Run under `mpiexec -n P`. Each rank makes every rank's input from a seed, so it computes
the expected result itself; rank 0 gathers every rank's verdicts and result hashes at the end
and prints one JSON line per case:
{"collective", "algorithm", "op", "dtype", "n", "ok", "identical", "detail"}
("identical": every rank ended with the same bytes, where they should).
"""

import hashlib
import json
import sys
import zlib

import numpy as np

import minigrad
import minigrad.distributed as dist
from minigrad.distributed import ReduceOp

DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]
OPS = [ReduceOp.SUM, ReduceOp.AVG, ReduceOp.PRODUCT, ReduceOp.MAX, ReduceOp.MIN]
TOLERANCE = {"float16": 2e-2, "float32": 1e-5, "float64": 1e-12}
MB_ELEMENTS = 1 << 20  # 4 MB of float32, 8 MB of int64


def supported(op, dtype):
    if dtype == "bool":
        return op in (ReduceOp.MAX, ReduceOp.MIN)
    return not (op is ReduceOp.AVG and not dtype.startswith("float"))


def make(case, rank, n, dtype, op):
    """This case's input on `rank`, the same on whichever rank builds it."""
    rng = np.random.default_rng([zlib.crc32(case.encode()), rank])
    if dtype == "bool":
        return rng.random(n) < 0.5
    if dtype.startswith("float"):
        if op is ReduceOp.PRODUCT:
            return rng.uniform(0.5, 1.5, n).astype(dtype)
        return rng.standard_normal(n).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True)


def expected_reduction(inputs, op, dtype):
    stack = np.stack(inputs)
    if dtype == "bool":
        return stack.any(0) if op is ReduceOp.MAX else stack.all(0)
    if op is ReduceOp.MAX:
        return stack.max(0)
    if op is ReduceOp.MIN:
        return stack.min(0)
    if dtype.startswith("float"):
        wide = stack.astype(np.float64)
        if op is ReduceOp.PRODUCT:
            return wide.prod(0)
        total = wide.sum(0)
        return total / len(inputs) if op is ReduceOp.AVG else total
    return stack.prod(0, dtype=dtype) if op is ReduceOp.PRODUCT else stack.sum(0, dtype=dtype)


def matches(got, want, dtype):
    if dtype in TOLERANCE:
        tol = TOLERANCE[dtype]
        return bool(np.allclose(got.astype(np.float64), want, rtol=tol, atol=tol))
    return got.dtype == np.dtype(dtype) and np.array_equal(got, want)


def case_key(collective, algorithm, op, dtype, n):
    return {"collective": collective, "algorithm": algorithm, "op": op, "dtype": dtype, "n": n}


def digest(array):
    return hashlib.sha1(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def lengths(size):
    """0, 1, P - 1, P + 1 and primes: chunks of unequal size, empty chunks, no data."""
    return sorted({0, 1, size - 1, size + 1, 7, 13, 101})


class Cases:
    def __init__(self, group):
        self.group = group
        self.rank, self.size = dist.get_rank(group), dist.get_world_size(group)
        self.records = []

    def record(self, key, ok, result, same_everywhere, detail=""):
        self.records.append({**key, "ok": bool(ok), "detail": detail,
                             "hash": digest(result) if same_everywhere else None})

    def inputs(self, case, n, dtype, op=ReduceOp.SUM):
        return [make(case, r, n, dtype, op) for r in range(self.size)]

    def all_reduce(self, algorithm, op, dtype, n, as_tensor=False):
        key = case_key("all_reduce", algorithm, op.name, dtype, n)
        case = json.dumps(key)
        inputs = self.inputs(case, n, dtype, op)
        mine = inputs[self.rank].copy()
        target = minigrad.tensor(mine) if as_tensor and dtype != "bool" else mine
        dist.all_reduce(target, op=op, group=self.group, algorithm=algorithm)
        got = target.data if isinstance(target, minigrad.Tensor) else target
        want = expected_reduction(inputs, op, dtype)
        self.record(key, matches(got, want, dtype), got, True)

    def broadcast(self, algorithm, dtype, n, src):
        key = case_key("broadcast", algorithm, f"src{src}", dtype, n)
        inputs = self.inputs(json.dumps(key), n, dtype)
        mine = inputs[self.rank].copy()
        dist.broadcast(mine, group_src=src, group=self.group, algorithm=algorithm)
        self.record(key, np.array_equal(mine, inputs[src]), mine, True)

    def reduce(self, algorithm, op, dtype, n, dst):
        key = case_key("reduce", algorithm, f"{op.name}->{dst}", dtype, n)
        inputs = self.inputs(json.dumps(key), n, dtype, op)
        mine = inputs[self.rank].copy()
        dist.reduce(mine, group_dst=dst, op=op, group=self.group, algorithm=algorithm)
        if self.rank == dst:
            ok = matches(mine, expected_reduction(inputs, op, dtype), dtype)
        else:
            ok = np.array_equal(mine, inputs[self.rank])
        self.record(key, ok, mine, False, "" if ok else f"rank {self.rank}")

    def all_gather(self, algorithm, dtype, n, into_tensor):
        name = "all_gather_into_tensor" if into_tensor else "all_gather"
        key = case_key(name, algorithm, "", dtype, n)
        inputs = self.inputs(json.dumps(key), n, dtype)
        if into_tensor:
            out = np.zeros((self.size, n), dtype)
            dist.all_gather_into_tensor(out, inputs[self.rank], group=self.group,
                                        algorithm=algorithm)
        else:
            parts = [np.zeros(n, dtype) for _ in range(self.size)]
            dist.all_gather(parts, inputs[self.rank], group=self.group, algorithm=algorithm)
            out = np.stack(parts) if n else np.zeros((self.size, 0), dtype)
        self.record(key, np.array_equal(out, np.stack(inputs)), out, True)

    def reduce_scatter(self, algorithm, op, dtype, n, as_list):
        name = "reduce_scatter" if as_list else "reduce_scatter_tensor"
        key = case_key(name, algorithm, op.name, dtype, n)
        inputs = self.inputs(json.dumps(key), n * self.size, dtype, op)
        mine = inputs[self.rank].copy()
        out = np.zeros(n, dtype)
        if as_list:
            dist.reduce_scatter(out, list(mine.reshape(self.size, n)), op=op, group=self.group,
                                algorithm=algorithm)
        else:
            dist.reduce_scatter_tensor(out, mine, op=op, group=self.group, algorithm=algorithm)
        want = expected_reduction(inputs, op, dtype)[self.rank * n:(self.rank + 1) * n]
        ok = matches(out, want, dtype) and np.array_equal(mine, inputs[self.rank])
        self.record(key, ok, out, False, "" if ok else f"rank {self.rank}")


def run_all(cases, full):
    """Every collective and algorithm: every op and dtype for the reductions' main variant,
    SUM for the other variants; MB-sized float32 and int64 buffers when `full`."""
    size = cases.size
    sizes = lengths(size) if full else [0, 1, size + 1, 101]
    pairs = [(op, dtype) for dtype in DTYPES for op in OPS if supported(op, dtype)]
    for algorithm in dist.ALGORITHMS:
        for op, dtype in pairs:
            for n in sizes:
                cases.all_reduce(algorithm, op, dtype, n, as_tensor=n == 101)
        if full:
            for dtype in ("float32", "int64"):
                cases.all_reduce(algorithm, ReduceOp.SUM, dtype, MB_ELEMENTS + 3)
    for dtype in ("float32", "int64"):  # "auto" on both sides of its size threshold
        for n in (0, 1, 2047, 2049, 100_003):
            cases.all_reduce("auto", ReduceOp.SUM, dtype, n)
    for algorithm in ("tree", "mpi"):
        for op, dtype in pairs:
            for n in sizes:
                cases.reduce(algorithm, op, dtype, n, size - 1)
        for dtype in DTYPES:
            for n in sizes:
                for root in sorted({0, size - 1}):
                    cases.broadcast(algorithm, dtype, n, root)
                op = ReduceOp.SUM if dtype != "bool" else ReduceOp.MAX
                cases.reduce(algorithm, op, dtype, n, 0)
        if full:
            cases.broadcast(algorithm, "float32", MB_ELEMENTS, size - 1)
            cases.reduce(algorithm, ReduceOp.SUM, "int64", MB_ELEMENTS, 0)
    for algorithm in ("ring", "mpi"):
        for op, dtype in pairs:
            for n in sizes:
                cases.reduce_scatter(algorithm, op, dtype, n, as_list=False)
        for dtype in DTYPES:
            for n in sizes:
                cases.all_gather(algorithm, dtype, n, into_tensor=False)
                cases.all_gather(algorithm, dtype, n, into_tensor=True)
                op = ReduceOp.SUM if dtype != "bool" else ReduceOp.MAX
                cases.reduce_scatter(algorithm, op, dtype, n, as_list=True)
        if full:
            cases.all_gather(algorithm, "float32", MB_ELEMENTS // size, True)
            cases.reduce_scatter(algorithm, ReduceOp.SUM, "int64", MB_ELEMENTS // size, False)
    cases.broadcast("auto", "float32", 13, size - 1)
    cases.reduce("auto", ReduceOp.SUM, "float32", 13, 0)
    for flag in (False, True):
        cases.all_gather("auto", "float32", 13, flag)
        cases.reduce_scatter("auto", ReduceOp.SUM, "float32", 13, flag)


def report(records, world, group_name):
    """Gather every rank's records on world rank 0; print one JSON line per case there.

    Ranks outside the group pass no records."""
    everyone = [r for r in world.gather(records, root=0) or [] if r]
    for i, record in enumerate(everyone[0] if everyone else []):
        mine = [ranks[i] for ranks in everyone]
        line = {k: v for k, v in record.items() if k != "hash"}
        line["ok"] = all(r["ok"] for r in mine)
        line["detail"] = "; ".join(r["detail"] for r in mine if r["detail"])
        line["identical"] = len({r["hash"] for r in mine}) == 1
        line["group"] = group_name
        print(json.dumps(line))


def main():
    from mpi4py import MPI

    dist.init_process_group(timeout=60)
    world = MPI.COMM_WORLD
    size = dist.get_world_size()
    cases = Cases(None)
    run_all(cases, full=True)
    report(cases.records, world, "world")
    # a sub-group of every rank but 0 (at P = 4 a non-power of two), given unsorted
    members = list(range(1, size)) if size > 2 else [1, 0]
    group = dist.new_group(list(reversed(members)))
    records = []
    if group is dist.GroupMember.NON_GROUP_MEMBER:
        assert dist.get_rank(group) == -1 and dist.get_world_size(group) == -1
    else:
        assert group.ranks == sorted(members), group.ranks
        assert dist.get_rank(group) == sorted(members).index(dist.get_rank())
        sub = Cases(group)
        run_all(sub, full=False)
        records = sub.records
    report(records, world, f"ranks {sorted(members)}")
    if world.Get_rank() == 0:
        print(json.dumps({"done": True, "size": size}))
    sys.stdout.flush()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
