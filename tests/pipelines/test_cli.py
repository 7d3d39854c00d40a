import pytest
from typer.testing import CliRunner

from pipelines.cli import app

runner = CliRunner()
COMMANDS = ["info", "generate", "train", "compare", "promote", "demo"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help(command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_info_summarizes_both_frameworks():
    for name in ("educator", "leader"):
        result = runner.invoke(app, ["info", "--framework", name])
        assert result.exit_code == 0, result.output
        assert "competencies" in result.output and "max_depth" in result.output


def test_info_names_the_cycle_of_a_bad_framework(tmp_path):
    path = tmp_path / "cyclic.yaml"
    path.write_text(
        "name: bad\ncompetencies:\n"
        "  - {id: a, name: A, domain: cognitive, prerequisites: [b]}\n"
        "  - {id: b, name: B, domain: cognitive, prerequisites: [a]}\n"
    )
    result = runner.invoke(app, ["info", "--framework", str(path)])
    assert result.exit_code != 0
    assert "prerequisite cycle" in str(result.exception)


def test_generate_writes_data_and_truth_apart(tmp_path):
    out = tmp_path / "gen"
    result = runner.invoke(app, ["generate", "--educators", "50", "--months", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("educators", "evidence", "completions"):
        assert (out / f"{name}.parquet").exists()
    assert (out / "truth" / "latent.parquet").exists()
    assert not (out / "latent.parquet").exists()
