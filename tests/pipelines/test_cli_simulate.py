from typer.testing import CliRunner

from pipelines.cli import app

runner = CliRunner()


def test_simulate_has_help():
    result = runner.invoke(app, ["simulate", "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output and "--policies" in result.output


def test_simulate_prints_a_table_and_writes_the_plot(tmp_path):
    out = tmp_path / "sim.png"
    result = runner.invoke(app, ["simulate", "--policies", "random,pathway-rule", "--educators",
                                 "30", "--steps", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "pathway-rule" in result.output and "gain_per_hour" in result.output
    assert out.exists() and out.stat().st_size > 0
