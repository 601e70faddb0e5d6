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
    assert main(["demo", "--seed", "7", "--out", "here"]) == 0
    (args,) = calls
    assert (args.command, args.seed, args.out) == ("demo", 7, "here")


def test_demo_defaults(monkeypatch):
    calls = _fake_module(monkeypatch, "minigrad.cli.demo", None)
    main(["demo"])
    (args,) = calls
    assert (args.seed, args.out) == (0, "minigrad-demo")


def test_train_parses_every_option(monkeypatch):
    calls = _fake_module(monkeypatch, "minigrad.cli.train", None)
    assert main(["train", "cnn", "--epochs", "3", "--batch-size", "32", "--lr", "0.01",
                 "--optimizer", "sgd", "--weight-decay", "0.001", "--steps-per-epoch", "5",
                 "--seed", "2", "--out", "d", "--resume", "d/last.ckpt"]) == 0
    (args,) = calls
    assert (args.model, args.epochs, args.batch_size, args.lr, args.optimizer,
            args.weight_decay, args.steps_per_epoch, args.seed, args.out, args.resume) == (
        "cnn", 3, 32, 0.01, "sgd", 0.001, 5, 2, "d", "d/last.ckpt")


def test_train_defaults_are_unset_so_the_recipe_decides(monkeypatch):
    calls = _fake_module(monkeypatch, "minigrad.cli.train", None)
    main(["train", "gpt"])
    (args,) = calls
    assert (args.epochs, args.batch_size, args.lr, args.optimizer, args.resume) == (
        None, None, None, None, None)


def test_train_rejects_unknown_models_and_optimizers(capsys):
    with pytest.raises(SystemExit):
        main(["train", "resnet"])
    assert "invalid choice: 'resnet'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "mlp", "--optimizer", "lion"])
    assert "invalid choice: 'lion'" in capsys.readouterr().err


def test_sample_requires_a_checkpoint(capsys):
    with pytest.raises(SystemExit):
        main(["sample"])
    assert "--checkpoint" in capsys.readouterr().err


def test_profile_and_bench_train_dispatch(monkeypatch):
    calls = _fake_module(monkeypatch, "minigrad.cli.profile", None)
    main(["profile", "gpt", "--batch-size", "2", "--repeat", "3"])
    assert (calls[0].model, calls[0].batch_size, calls[0].repeat) == ("gpt", 2, 3)
    calls = _fake_module(monkeypatch, "minigrad.cli.bench_train", 0)
    main(["bench", "train", "--threads", "1,2", "--models", "mlp", "gpt"])
    assert (calls[0].threads, calls[0].models, calls[0].out) == ("1,2", ["mlp", "gpt"], None)


def test_bench_overhead_dispatches_and_returns_its_status(monkeypatch):
    calls = _fake_module(monkeypatch, "minigrad.cli.bench_overhead", 3)
    assert main(["bench", "overhead", "--repeat", "2"]) == 3
    (args,) = calls
    assert (args.suite, args.repeat, args.out) == ("overhead", 2, None)


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
