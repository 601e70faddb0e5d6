"""Tests of `minigrad/cli/__init__.py`: argument parsing and dispatch of the `minigrad` command."""

import subprocess
import sys
import types

import pytest

from minigrad.cli import main


def test_help_exits_zero_and_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: minigrad" in out
    assert "demo" in out
    assert "bench" in out


def test_unknown_subcommand_exits_nonzero(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2
    assert "invalid choice: 'no-such-command'" in capsys.readouterr().err


def test_missing_subcommand_exits_nonzero(capsys):
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_unknown_bench_suite_exits_nonzero(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "nonsense"])
    assert exc.value.code == 2
    assert "invalid choice: 'nonsense'" in capsys.readouterr().err


def _fake_module(monkeypatch, name, status):
    """Put a stand-in for a subcommand module in sys.modules; it records the args it gets."""
    calls = []
    module = types.ModuleType(name)
    module.run = lambda args: calls.append(args) or status
    monkeypatch.setitem(sys.modules, name, module)
    return calls


def test_demo_parses_its_options_and_dispatches(monkeypatch):
    calls = _fake_module(monkeypatch, "minigrad.cli.demo", None)
    assert main(["demo", "--steps", "3", "--seed", "7", "--out", "demo.json"]) == 0
    (args,) = calls
    assert (args.command, args.steps, args.seed, args.out) == ("demo", 3, 7, "demo.json")


def test_demo_defaults(monkeypatch):
    calls = _fake_module(monkeypatch, "minigrad.cli.demo", None)
    main(["demo"])
    (args,) = calls
    assert (args.steps, args.seed, args.out) == (None, 0, None)


def test_bench_overhead_dispatches_and_returns_its_status(monkeypatch):
    calls = _fake_module(monkeypatch, "minigrad.cli.bench_overhead", 3)
    assert main(["bench", "overhead", "--repeat", "2"]) == 3
    (args,) = calls
    assert (args.suite, args.repeat, args.out) == ("overhead", 2, "bench-overhead.json")


def test_help_does_not_import_subcommand_modules():
    code = (
        "import sys\n"
        "from minigrad.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('minigrad.cli.')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "minigrad.cli", "--help"],
                            capture_output=True, text=True)
    assert result.returncode == 0
    assert "usage: minigrad" in result.stdout
