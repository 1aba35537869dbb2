"""``drg model import-drg``: convert an original-DRG checkpoint into a DRG model directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from drg.cli._common import done

app = typer.Typer(help="Import checkpoints written by the original DRG code.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Import checkpoints written by the original DRG code."""


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
