"""`ganops` follows CLI conventions: --version, usage errors exit 2 naming the choices, help on every option."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

import ganops
from ganops.cli import common, detect, translate, video
from ganops.cli import main as cli

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
MINE = {cli.__name__, detect.__name__, translate.__name__, video.__name__}  # the modules held to the conventions


def test_version():
    result = runner.invoke(cli.app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"ganops {ganops.__version__}"


def test_rollback_target_outside_the_choices_is_a_usage_error():
    result = runner.invoke(cli.app, ["rollback", "foo"])
    assert result.exit_code == 2, result.output
    assert "'foo' is not one of" in result.output and "'generator'" in result.output


@pytest.mark.parametrize("command", ["train-gan", "evaluate-gan", "generate-fakes"])
def test_unknown_variant_is_a_usage_error_listing_the_variants(command):
    result = runner.invoke(cli.app, [command, "nope", "--params", str(ROOT / "params.yaml")])
    assert result.exit_code == 2, result.output
    assert "'nope' is not one of" in result.output and "'dcgan'" in result.output


def test_unknown_detector_is_a_usage_error():
    result = runner.invoke(cli.app, ["train-detector", "nope", "--params", str(ROOT / "params.yaml")])
    assert result.exit_code == 2 and "'spectrum'" in result.output, result.output


def test_every_option_and_argument_has_help():
    import typer.main

    group = typer.main.get_command(cli.app)
    missing = []
    for name, command in group.commands.items():
        if command.callback is None or command.callback.__module__ not in MINE:
            continue
        missing += [f"{name} {p.name}" for p in command.params if not getattr(p, "help", None)]
    assert not missing, missing


def test_short_summary_rounds_numbers():
    assert common.short({"fid_300_domain": 388.50025728829206, "task": "x"}) == "fid_300_domain 388.5"
