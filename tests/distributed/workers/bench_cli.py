"""Under mpiexec: run the `minigrad` command with this script's arguments on every rank.

The launcher's environment makes `bench allreduce` and `bench ddp` measure in this world
(rank 0 reports). Used by tests/cli/test_bench_allreduce.py and test_bench_ddp.py.
"""

import sys

from minigrad.cli import main

sys.exit(main(sys.argv[1:]))
