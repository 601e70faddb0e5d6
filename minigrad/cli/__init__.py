"""The `minigrad` command: `minigrad demo`, `minigrad bench overhead`.

Each subcommand lives in its own module (`demo.py`, `bench_overhead.py`) with a
`run(args) -> int | None` function. They are imported only when their subcommand runs, so
`minigrad --help` answers without loading the framework's heavier parts.
"""

from __future__ import annotations

import argparse
import importlib


def _run_demo(args: argparse.Namespace) -> int | None:
    return importlib.import_module("minigrad.cli.demo").run(args)


def _run_bench(args: argparse.Namespace) -> int | None:
    return importlib.import_module(f"minigrad.cli.bench_{args.suite}").run(args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `minigrad` command, one subparser per subcommand."""
    parser = argparse.ArgumentParser(
        prog="minigrad",
        description="minigrad: a small deep-learning framework to learn from and to measure.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="train a small model end to end and show what autograd did",
        description="Train a small model end to end. MINIGRAD_FAST=1 runs a shortened version.",
    )
    demo.add_argument("--steps", type=int, default=None,
                      help="training steps (default: the demo's own choice)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.add_argument("--out", default=None, metavar="PATH",
                      help="also write the results as JSON to PATH")
    demo.set_defaults(handler=_run_demo)

    bench = commands.add_parser(
        "bench",
        help="run a benchmark suite next to PyTorch and write JSON",
        description="Run a benchmark suite; results are printed and written as JSON.",
    )
    bench.add_argument("suite", choices=["overhead"],
                       help="overhead: per-op framework overhead, forward and backward")
    bench.add_argument("--out", default="bench-overhead.json", metavar="PATH",
                       help="where to write the JSON results (default: bench-overhead.json)")
    bench.add_argument("--repeat", type=int, default=5,
                       help="how many times each measurement is repeated (default: 5)")
    bench.set_defaults(handler=_run_bench)

    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `minigrad` console script; `argv` defaults to `sys.argv[1:]`."""
    args = build_parser().parse_args(argv)
    status = args.handler(args)
    return 0 if status is None else int(status)
