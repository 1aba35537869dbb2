"""Entry point of the ``drg`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from drg.cli import data as data_cli
from drg.cli import insilico as insilico_cli
from drg.cli import kernels as kernels_cli
from drg.cli import model as model_cli
from drg.cli import motifs as motifs_cli
from drg.cli import simulate as simulate_cli
from drg.cli import train as train_cli
from drg.cli.attribute import attribute as attribute_cmd
from drg.cli.baseline import baseline as baseline_cmd
from drg.cli.design import design as design_cmd
from drg.cli.embed import embed as embed_cmd
from drg.cli.evaluate import evaluate as evaluate_cmd
from drg.cli.pipeline import report as report_cmd
from drg.cli.pipeline import run as run_cmd
from drg.cli.variants import variants as variants_cmd
from drg.cli._common import run_app

app = typer.Typer(
    name="drg",
    help="DRG: sequence-to-function models for regulatory genomics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(data_cli.app, name="data")
app.add_typer(simulate_cli.app, name="simulate")
app.add_typer(model_cli.app, name="model")
app.add_typer(motifs_cli.app, name="motifs")
app.add_typer(kernels_cli.app, name="kernels")
app.add_typer(insilico_cli.app, name="insilico")
for _name in ("train", "cv", "predict", "finetune"):
    app.command(_name)(getattr(train_cli, _name))
app.command("evaluate")(evaluate_cmd)
app.command("attribute")(attribute_cmd)
app.command("variants")(variants_cmd)
app.command("design")(design_cmd)
app.command("baseline")(baseline_cmd)
app.command("embed")(embed_cmd)
app.command("run")(run_cmd)
app.command("report")(report_cmd)


def _version(value: bool) -> None:
    if value:
        from drg import __version__

        typer.echo(f"drg {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        Optional[bool],
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    """DRG: sequence-to-function models for regulatory genomics."""


@app.command()
def quickstart(
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("drg_quickstart"),
    seed: Annotated[Optional[int], typer.Option(help="Seed for simulation and folds (default 0).")] = None,
    n_sequences: Annotated[Optional[int], typer.Option("--n-sequences", help="Number of simulated sequences.")] = None,
    config: Annotated[Optional[Path], typer.Option(help="YAML file with quickstart settings.")] = None,
) -> None:
    """Run the whole path on bundled data simulated from JASPAR motifs, checked against the truth; writes
    DIR/report/index.html and DIR/summary.json."""
    from drg.quickstart import QuickstartConfig
    from drg.quickstart import quickstart as run

    cfg = QuickstartConfig.from_yaml(config) if config else QuickstartConfig()
    updates: dict[str, int] = {}
    if seed is not None:
        updates["seed"] = seed
    if n_sequences is not None:
        updates["n_sequences"] = n_sequences
    cfg = QuickstartConfig.from_dict({**cfg.to_dict(), **updates})
    run(out, cfg)


def main() -> None:
    """Console-script entry point."""
    run_app(app)


if __name__ == "__main__":
    main()
