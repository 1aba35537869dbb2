"""``drg design``: edit sequences so that a trained model predicts what you ask for."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import typer
from pydantic import Field, field_validator

from drg.cli._common import done, split_list
from drg.config import Config
from drg.errors import InputError


def _as_list(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return split_list(value)
    if isinstance(value, (int, float)):
        return [value]
    return list(value)


class DesignConfig(Config):
    """Settings of ``drg design`` (the YAML file of ``--config``; command-line options override it).

    Lists may be written as YAML lists or comma-separated strings (``tracks: liver,heart``); ``fixed`` holds
    0-based half-open intervals ``START-END``.
    """

    model: str | None = None
    which: str = "best"
    fasta: str | None = None
    npz: str | None = None
    random: int | None = None
    length: int | None = None
    objective: Literal["maximize", "minimize", "difference", "target"] = "maximize"
    tracks: list[str] | None = None
    against: list[str] | None = None
    targets: list[float] | None = None
    weights: list[float] | None = None
    head: int | None = None
    method: Literal["greedy", "beam", "anneal"] = "greedy"
    scorer: Literal["ism", "tism"] = "ism"
    steps: int | None = None
    beam_width: int = 4
    top_k: int = 8
    edits_per_step: int = 1
    temperature: float | None = None
    cooling: float = 0.99
    forbid: list[str] = Field(default_factory=list)
    gc: list[float] | None = None
    fixed: list[str] = Field(default_factory=list)
    max_edits: int | None = None
    repair: bool = True
    seed: int = 0
    device: str | None = None
    batch_size: int = 128
    plot: int = 4
    out: str | None = None

    @field_validator("tracks", "against", "forbid", "fixed", mode="before")
    @classmethod
    def _strings(cls, value: Any) -> Any:
        items = _as_list(value)
        return None if items is None else [str(v) for v in items]

    @field_validator("targets", "weights", "gc", mode="before")
    @classmethod
    def _numbers(cls, value: Any) -> Any:
        return _as_list(value)


def _intervals(items: list[str]) -> list[tuple[int, int]]:
    out = []
    for item in items:
        parts = item.replace(":", "-").split("-")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise InputError(f"fixed interval {item!r} must be START-END (0-based, half-open), e.g. 0-20")
        out.append((int(parts[0]), int(parts[1])))
    return out


def _track_items(items: list[str] | None, names: list[str] | None) -> Any:
    if items is None or items == ["all"]:
        return "all"
    return [int(t) if t.lstrip("-").isdigit() and (names is None or t not in names) else t for t in items]


def _start_sequences(cfg: DesignConfig) -> tuple[np.ndarray, np.ndarray]:
    given = [name for name in ("fasta", "npz", "random") if getattr(cfg, name) is not None]
    if len(given) != 1:
        raise InputError("give exactly one sequence source: --fasta FILE, --npz FILE or --random N --length L"
                         + (f" (got {', '.join('--' + g for g in given)})" if given else ""))
    if cfg.random is not None:
        if cfg.length is None or cfg.length < 1 or cfg.random < 1:
            raise InputError("--random N needs a positive N and --length L")
        rng = np.random.default_rng(cfg.seed)
        codes = rng.integers(0, 4, size=(cfg.random, cfg.length))
        X = np.eye(4, dtype=np.int8)[codes].transpose(0, 2, 1).copy()
        return X, np.array([f"random_{i}" for i in range(cfg.random)])
    from drg.data import read_sequences

    data = read_sequences(cfg.fasta if cfg.fasta is not None else cfg.npz, length=cfg.length)
    return np.asarray(data.X, dtype=np.int8), np.asarray(data.names).astype(str)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def run_design(cfg: DesignConfig, *, verbose: bool = True) -> Path:
    """Run a design described by ``cfg`` and write its outputs to ``cfg.out``.

    Writes ``designed.fa`` (designed sequences under their input names), ``start.fa``, ``trajectory.tsv``,
    ``summary.json`` (section ``design``: settings and one record per sequence), ``config.yaml``, ``run.json``,
    ``trajectory.png`` and ``logos.<name>.png`` for the first ``cfg.plot`` sequences.
    """
    from drg.attribution.api import attribute
    from drg.attribution.tracks import model_output_names
    from drg.cli.attribute import load_attribution_model
    from drg.design.optimization import (
        DesignConstraints,
        DesignObjective,
        optimize_sequences,
    )
    from drg.genome import one_hot_decode, write_fasta
    from drg.plotting.design import plot_design_logos, plot_design_trajectory
    from drg.provenance import RunRecord, update_summary
    from drg.utils import atomic_write

    if cfg.model is None or cfg.out is None:
        raise InputError("drg design needs --model DIR and --out DIR (or model: and out: in --config)")
    out = Path(cfg.out)
    record = RunRecord(seed=cfg.seed)
    record.add_inputs([p for p in (cfg.fasta, cfg.npz) if p is not None])
    with record.step("load"):
        model, info = load_attribution_model(Path(cfg.model), cfg.which)
        X, names = _start_sequences(cfg)
    track_names = model_output_names(model, cfg.head)
    objective = DesignObjective(cfg.objective, _track_items(cfg.tracks, track_names),
                                against=None if cfg.against is None else _track_items(cfg.against, track_names),
                                weights=cfg.weights, targets=cfg.targets, head=cfg.head)
    if cfg.gc is not None and len(cfg.gc) != 2:
        raise InputError(f"--gc must be LOW,HIGH fractions such as 0.3,0.7; got {cfg.gc}")
    constraints = DesignConstraints(fixed=_intervals(cfg.fixed) or None, forbidden=cfg.forbid,
                                    gc_range=None if cfg.gc is None else (cfg.gc[0], cfg.gc[1]),
                                    max_edits=cfg.max_edits, repair=cfg.repair)
    with record.step("design"):
        result = optimize_sequences(model, X, objective, method=cfg.method, scorer=cfg.scorer, n_steps=cfg.steps,
                                    beam_width=cfg.beam_width, top_k=cfg.top_k, edits_per_step=cfg.edits_per_step,
                                    temperature=cfg.temperature, cooling=cfg.cooling, constraints=constraints,
                                    seed=cfg.seed, batch_size=cfg.batch_size, device=cfg.device, verbose=verbose)
    out.mkdir(parents=True, exist_ok=True)
    write_fasta(list(names), one_hot_decode(result.X), out / "designed.fa")
    write_fasta(list(names), one_hot_decode(result.X_start), out / "start.fa")
    table = result.trajectory.copy()
    table.insert(1, "name", names[table["sequence"].to_numpy()])
    with atomic_write(out / "trajectory.tsv") as handle:
        table.to_csv(handle, sep="\t", index=False, float_format="%.6g")
    per_seq = result.summary()
    per_seq.insert(0, "name", names)
    payload = {"objective": objective.describe(result.track_names), "tracks": result.track_names,
               "constraints": constraints.to_dict(), "settings": result.settings, "model": info,
               "n_sequences": len(names), "mean_gain": float(per_seq["gain"].mean()),
               "sequences": per_seq.to_dict(orient="records")}
    update_summary(out, "design", payload)
    cfg.to_yaml(out / "config.yaml")
    with record.step("plots"):
        plot_design_trajectory(result, title=objective.describe(result.track_names), path=out / "trajectory.png")
        shown = list(range(min(cfg.plot, len(names))))
        figures = {"trajectory": out / "trajectory.png"}
        if shown:
            both = np.concatenate([result.X_start[shown], result.X[shown]]).astype(np.float32)
            values = attribute(model, both, "ism", result.settings["track_columns"], "corrected", head=cfg.head,
                               device=cfg.device)
            for row, i in enumerate(shown):
                path = out / f"logos.{_safe(str(names[i]))}.png"
                plot_design_logos(values[row], values[len(shown) + row], result.X_start[i], result.X[i],
                                  track_names=result.track_names, predicted_start=result.start_predictions[i],
                                  predicted_final=result.final_predictions[i], ylabel="ISM (corrected)",
                                  title=f"{names[i]}: objective {result.start_objective[i]:.4g} -> "
                                        f"{result.final_objective[i]:.4g}", path=path)
                figures[f"logos.{names[i]}"] = path
    record.add_outputs({"designed": out / "designed.fa", "start": out / "start.fa",
                        "trajectory": out / "trajectory.tsv", "summary": out / "summary.json", **figures})
    record.write(out)
    return out


def design(
    model: Annotated[str | None, typer.Option("--model", help="Checkpoint or run directory (drg train).")] = None,
    out: Annotated[str | None, typer.Option("--out", help="Output directory.")] = None,
    fasta: Annotated[str | None, typer.Option("--fasta", help="FASTA file of start sequences.")] = None,
    npz: Annotated[str | None, typer.Option("--npz", help="DRG one-hot .npz of start sequences.")] = None,
    random: Annotated[int | None, typer.Option("--random", help="Start from N random sequences (seeded).")] = None,
    length: Annotated[int | None, typer.Option(
        "--length", help="Length of random sequences; FASTA sequences are centre-padded/cropped to it.")] = None,
    objective: Annotated[str | None, typer.Option(
        "--objective", help="maximize, minimize, difference (mean(tracks) - mean(against)) or target.")] = None,
    tracks: Annotated[str | None, typer.Option(
        "--tracks", help="Comma-separated track indices or names (default: all).")] = None,
    against: Annotated[str | None, typer.Option("--against", help="Second track group of --objective difference.")] = None,
    targets: Annotated[str | None, typer.Option(
        "--targets", help="Comma-separated target values, one per track (--objective target).")] = None,
    weights: Annotated[str | None, typer.Option("--weights", help="Comma-separated weights, one per track.")] = None,
    head: Annotated[int | None, typer.Option("--head", help="Output head of a multi-head model.")] = None,
    method: Annotated[str | None, typer.Option("--method", help="greedy, beam or anneal.")] = None,
    scorer: Annotated[str | None, typer.Option(
        "--scorer", help="ism (exact edits) or tism (first-order ranking, top-k predicted exactly).")] = None,
    steps: Annotated[int | None, typer.Option(
        "--steps", help="Maximum steps (default: until converged; annealing 500).")] = None,
    beam_width: Annotated[int | None, typer.Option("--beam-width", help="Sequences kept by beam search.")] = None,
    top_k: Annotated[int | None, typer.Option("--top-k", help="Candidates predicted exactly per step (tism).")] = None,
    edits_per_step: Annotated[int | None, typer.Option("--edits-per-step", help="Edits per step (greedy, anneal).")]
    = None,
    temperature: Annotated[float | None, typer.Option(
        "--temperature", help="Start temperature of annealing (default: calibrated).")] = None,
    cooling: Annotated[float | None, typer.Option("--cooling", help="Temperature factor per annealing step.")] = None,
    forbid: Annotated[str | None, typer.Option(
        "--forbid", help="Comma-separated IUPAC motifs absent from both strands, e.g. GAATTC,GGATCC.")] = None,
    gc: Annotated[str | None, typer.Option("--gc", help="Allowed GC fraction LOW,HIGH, e.g. 0.3,0.7.")] = None,
    fixed: Annotated[str | None, typer.Option(
        "--fixed", help="Positions never edited: 0-based half-open START-END intervals, e.g. 0-20,180-200.")] = None,
    max_edits: Annotated[int | None, typer.Option("--max-edits", help="Maximum edits from the start sequence.")] = None,
    repair: Annotated[bool | None, typer.Option(
        "--repair/--no-repair", help="Repair start sequences that violate --forbid/--gc (default) or stop with an "
        "error.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of random starts and annealing.")] = None,
    device: Annotated[str | None, typer.Option("--device", help="cpu or cuda (default: cuda when available).")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Sequences per model call.")] = None,
    plot: Annotated[int | None, typer.Option("--plot", help="Logo figures of the first N sequences (default 4).")]
    = None,
    which: Annotated[str | None, typer.Option("--which", help="Checkpoint of a run directory: best or last.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="YAML file with these settings.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Design sequences: greedy, beam or annealing edits that maximise, minimise, contrast or hit model
    predictions under fixed positions, forbidden motifs, GC range and edit budget; writes designed.fa,
    trajectory.tsv, summary.json and figures."""
    cfg = DesignConfig.from_yaml(config) if config is not None else DesignConfig()
    given = {"model": model, "out": out, "fasta": fasta, "npz": npz, "random": random, "length": length,
             "objective": objective, "tracks": tracks, "against": against, "targets": targets,
             "weights": weights, "head": head, "method": method, "scorer": scorer, "steps": steps,
             "beam_width": beam_width, "top_k": top_k, "edits_per_step": edits_per_step,
             "temperature": temperature, "cooling": cooling, "forbid": forbid, "gc": gc, "fixed": fixed,
             "max_edits": max_edits, "repair": repair, "seed": seed, "device": device, "batch_size": batch_size,
             "plot": plot, "which": which}
    updates = {k: v for k, v in given.items() if v is not None}
    cfg = DesignConfig.from_dict({**cfg.model_dump(), **updates}, source=None if config is None else str(config))
    path = run_design(cfg, verbose=not quiet)
    done(f"designed {cfg.random or 'the'} sequence(s) with {cfg.method}; outputs in {path}")
