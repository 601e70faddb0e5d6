"""A world of one, started as a plain `python` process (no mpiexec), and argument errors.

Prints one JSON line per check: {"check": name, "ok": bool, "detail": str}. An "error"
check is ok when the call raised the expected exception type with all expected words.
"""

import datetime
import json
import os

import numpy as np

import minigrad
import minigrad.distributed as dist
from minigrad.distributed import ReduceOp

results = []


def check(name, ok, detail=""):
    results.append({"check": name, "ok": bool(ok), "detail": str(detail)})


def error(name, kind, words, call):
    try:
        call()
    except kind as caught:
        message = str(caught)
        check(name, all(w in message for w in words), message)
        return
    except Exception as caught:  # noqa: BLE001 - the wrong kind is a failed check
        check(name, False, f"{type(caught).__name__}: {caught}")
        return
    check(name, False, "no error")


def main():
    error("get_rank before init", RuntimeError, ["init_process_group"], dist.get_rank)
    error("bad backend", ValueError, ["'nccl'", "mpi"],
          lambda: dist.init_process_group("nccl"))
    error("negative timeout", ValueError, ["timeout", "-1"],
          lambda: dist.init_process_group(timeout=-1))
    os.environ["MINIGRAD_DIST_TIMEOUT"] = "soon"
    error("bad MINIGRAD_DIST_TIMEOUT", ValueError, ["MINIGRAD_DIST_TIMEOUT", "'soon'"],
          dist.init_process_group)
    del os.environ["MINIGRAD_DIST_TIMEOUT"]

    dist.init_process_group(timeout=datetime.timedelta(seconds=30))
    check("world of one", dist.is_initialized() and dist.get_rank() == 0
          and dist.get_world_size() == 1 and dist.get_backend() == "mpi")
    error("init twice", RuntimeError, ["already initialized"], dist.init_process_group)

    for algorithm in dist.ALGORITHMS + ("auto",):
        x = np.arange(7, dtype=np.float32)
        dist.all_reduce(x, op=ReduceOp.AVG, algorithm=algorithm)
        check(f"all_reduce {algorithm} on one rank", np.array_equal(x, np.arange(7)))
    for algorithm in ("tree", "mpi"):
        x = np.arange(5)
        dist.broadcast(x, src=0, algorithm=algorithm)
        dist.reduce(x, dst=0, algorithm=algorithm)
        check(f"broadcast, reduce {algorithm} on one rank", np.array_equal(x, np.arange(5)))
    for algorithm in ("ring", "mpi"):
        out = np.zeros((1, 4))
        dist.all_gather_into_tensor(out, np.ones(4), algorithm=algorithm)
        rs = np.zeros(4)
        dist.reduce_scatter_tensor(rs, np.full(4, 2.0), algorithm=algorithm)
        check(f"all_gather, reduce_scatter {algorithm} on one rank",
              np.all(out == 1) and np.all(rs == 2))
    work = dist.all_reduce(minigrad.tensor([1.0, 2.0]), async_op=True)
    check("async on one rank", work.wait() and work.is_completed())

    x = np.ones(4, np.float32)
    error("unknown algorithm", ValueError, ["'bogus'", "ring", "rabenseifner",
                                            "recursive_doubling", "tree", "mpi", "auto"],
          lambda: dist.all_reduce(x, algorithm="bogus"))
    error("algorithm the collective lacks", ValueError, ["broadcast", "'ring'", "tree, mpi"],
          lambda: dist.broadcast(x, src=0, algorithm="ring"))
    error("AVG of integers", TypeError, ["AVG", "int64"],
          lambda: dist.all_reduce(np.ones(3, np.int64), op=ReduceOp.AVG))
    error("SUM of bool", TypeError, ["SUM", "bool", "MAX"],
          lambda: dist.all_reduce(np.ones(3, bool)))
    error("unsupported dtype", TypeError, ["complex128"],
          lambda: dist.all_reduce(np.ones(3, np.complex128)))
    error("op that is not a ReduceOp", TypeError, ["ReduceOp", "'sum'"],
          lambda: dist.all_reduce(x, op="sum"))
    error("not an array", TypeError, ["tensor", "list"], lambda: dist.all_reduce([1.0, 2.0]))
    readonly = np.ones(3)
    readonly.flags.writeable = False
    error("read-only output", ValueError, ["read-only"], lambda: dist.all_reduce(readonly))
    error("all_gather list length", ValueError, ["tensor_list has 2", "1 ranks"],
          lambda: dist.all_gather([np.zeros(4), np.zeros(4)], x))
    error("all_gather entry shape", ValueError, ["tensor_list[0]", "4 elements", "(3,)"],
          lambda: dist.all_gather([np.zeros(3, np.float32)], x))
    error("reduce_scatter_tensor sizes", ValueError, ["input", "4 elements", "(8,)"],
          lambda: dist.reduce_scatter_tensor(x, np.zeros(8, np.float32)))
    error("reduce_scatter dtypes", ValueError, ["input_list[0]", "float32", "float64"],
          lambda: dist.reduce_scatter(x, [np.zeros(4)]))
    error("src outside the group", ValueError, ["src=3", "[0]"],
          lambda: dist.broadcast(x, src=3))
    error("src and group_src", ValueError, ["exactly one", "group_src"],
          lambda: dist.broadcast(x, src=0, group_src=0))
    error("new_group out of range", ValueError, ["[4]", "out of range"],
          lambda: dist.new_group([0, 4]))
    error("new_group duplicates", ValueError, ["more than once"],
          lambda: dist.new_group([0, 0]))

    dist.destroy_process_group()
    check("destroyed", not dist.is_initialized())
    dist.init_process_group()
    check("init again after destroy", dist.get_world_size() == 1)
    for line in results:
        print(json.dumps(line))


if __name__ == "__main__":
    main()
