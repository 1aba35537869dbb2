"""``drg model``: inspect model configs, export weights, import original-DRG checkpoints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from drg.cli._common import done, out_console

app = typer.Typer(help="Inspect model configs, export weights, import original-DRG checkpoints.", no_args_is_help=True)


@app.command("show")
def show_cmd(
    source: Annotated[Path, typer.Argument(help="Model config YAML, or a model directory (config.yaml + weights).")],
    length: Annotated[Optional[int], typer.Option("--length", help="Input length to describe.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Print the layer table, receptive field, parameter counts and output shapes of a model."""
    from drg.models.cnn import build
    from drg.models.summary import describe, print_summary
    from drg.models.weights import WEIGHTS, load_model

    if source.is_dir() and (source / WEIGHTS).exists():
        model = load_model(source)
    else:
        model = build(source)
    summary = describe(model, input_length=length)
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        print_summary(summary, out_console)


@app.command("export")
def export_cmd(
    state_dict: Annotated[Path, typer.Argument(help="PyTorch state-dict or Lightning checkpoint file (.pt/.pth/.ckpt).")],
    config: Annotated[Path, typer.Option("--config", help="Model config YAML the weights belong to.")],
    out: Annotated[Path, typer.Option("--out", help="Output model directory.")],
) -> None:
    """Write a model directory (weights.safetensors + config.yaml + outputs.json) from a state dict."""
    from drg.models.weights import export_state_dict

    export_state_dict(state_dict, config, out)
    done(f"model written to {out}")


@app.command("import-drg")
def import_drg(
    params_dat: Annotated[Path, typer.Argument(help="The original *_model_params.dat file.")],
    parameter_pth: Annotated[Path, typer.Argument(help="The original *_parameter.pth file (its state_dict).")],
    out: Annotated[Path, typer.Option("--out", help="Output model directory (safetensors + config.yaml).")],
) -> None:
    """Rebuild an original-DRG model, copy its weights and write it as a DRG model directory.

    The parameter file is loaded with ``weights_only=True`` (no pickled code runs). Options the import does
    not reproduce are reported by name.
    """
    from drg.models import save_model
    from drg.models.drg_compat import load_drg
    from drg.provenance import RunRecord

    record = RunRecord()
    record.add_inputs([params_dat, parameter_pth])
    with record.step("import"):
        model = load_drg(params_dat, parameter_pth)
    with record.step("write"):
        save_model(model, out)
    record.add_outputs({"model": out})
    record.write(out)
    n_params = sum(p.numel() for p in model.parameters())
    done(f"imported {n_params:,} parameters, outputs {model.n_outputs} → {out}")
