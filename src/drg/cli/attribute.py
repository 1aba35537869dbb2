"""``drg attribute``: attributions of a trained model for sequences from an npz, a FASTA or genome regions.

A multi-input model (:class:`drg.models.MultiInputModel`) reads one ``.npz`` per input (``--npz a.npz,b.npz``,
rows matched by name) and gets one attribution file per input: ``--out att.npz`` writes ``att.input0.npz``,
``att.input1.npz``, ...
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from drg.cli._common import done, parse_devices, run_app, split_list
from drg.errors import InputError

_DEFAULT_GAUGE = {"gradient": "hypothetical", "tism": "raw", "ism": "raw", "deeplift_shap": "hypothetical",
                  "integrated_gradients": "global", "smoothgrad": "local"}
_SAMPLE_ARG = {"deeplift_shap": "n_shuffles", "integrated_gradients": "n_steps", "smoothgrad": "n_samples"}
MULTI_INPUT_METHODS: tuple[str, ...] = ("gradient", "tism", "ism")
"""Methods of :func:`drg.attribution.attribute` that take several sequence inputs."""


@dataclass
class SequenceInput:
    """Sequences to attribute.

    Attributes
    ----------
    X
        ``(N, 4, L)`` int8 one-hot sequences, in the orientation given to the model.
    names
        ``(N,)`` sequence names.
    coordinates
        ``{"chrom", "start", "end"}`` arrays (0-based half-open) of the windows, for genome regions.
    minus
        ``(N,)`` bool: the sequence is the reverse complement of its window (strand ``-``), for genome regions.
    chrom_sizes
        Chromosome lengths of the genome, for genome regions.
    """

    X: np.ndarray
    names: np.ndarray
    coordinates: dict[str, np.ndarray] | None = None
    minus: np.ndarray | None = None
    chrom_sizes: dict[str, int] | None = None


def load_attribution_model(path: Path, which: str = "best") -> tuple[Any, dict[str, Any]]:
    """Load a checkpoint / run directory (:func:`drg.training.load`) or a model directory written by
    :func:`drg.models.save_model`, with its provenance (directory and SHA-256 of its ``config.yaml``)."""
    from drg.training.checkpoint import find_checkpoint
    from drg.utils import file_sha256

    path = Path(path)
    if not path.exists():
        raise InputError("model directory not found", path=path)
    directory = find_checkpoint(path, which)
    from drg.training import load

    model = load(directory)
    config = directory / "config.yaml"
    info = {"model": str(directory.resolve()),
            "config_sha256": file_sha256(config) if config.exists() else None}
    return model, info


def read_sequences(*, npz: Path | None = None, fasta: Path | None = None, genome: Path | None = None,
                   regions: Path | None = None, length: int | None = None, verbose: bool = False) -> SequenceInput:
    """Read the sequences of exactly one source: a DRG one-hot ``.npz``, a FASTA file, or genome + regions.

    FASTA sequences and regions are centre-padded/cropped (regions: resized around their centre) to ``length``
    when it is given; otherwise they must all have the same length. Regions on strand ``-`` are read as the
    reverse complement of their window.
    """
    given = [name for name, v in (("--npz", npz), ("--fasta", fasta), ("--genome/--regions", genome or regions))
             if v is not None]
    if len(given) != 1:
        raise InputError("give exactly one sequence source: --npz FILE, --fasta FILE or --genome FA --regions BED"
                         + (f" (got {', '.join(given)})" if given else ""))
    from drg.genome import one_hot_encode

    if npz is not None or fasta is not None:
        from drg.data import read_sequences

        data = read_sequences(npz if npz is not None else fasta, length=length)
        return SequenceInput(np.asarray(data.X), np.asarray(data.names).astype(str))
    if genome is None or regions is None:
        raise InputError("genome regions need both --genome FA and --regions BED")
    from drg.genome import Genome, prepare_regions
    from drg.training.inputs import example_names

    table = prepare_regions(regions, length=length)
    if not len(table):
        raise InputError("no regions found", path=regions)
    if "blocks" in table.columns and table["blocks"].notna().any():
        raise InputError("spliced (block) regions are not supported; give plain intervals", path=regions)
    spans = np.unique((table["end"] - table["start"]).to_numpy())
    if len(spans) > 1:
        raise InputError(f"regions have {len(spans)} different lengths ({spans[:5].tolist()}); pass --length to "
                         "resize them around their centres", path=regions)
    fa = Genome(genome)
    unknown = sorted(set(table["chrom"].astype(str)) - set(fa.chrom_sizes))
    if unknown:
        raise InputError(f"{len(unknown)} chromosome(s) of the regions are not in the genome: {unknown[:5]}",
                         path=regions)
    X = one_hot_encode(fa.fetch_regions(table, verbose=verbose))
    coords = {"chrom": table["chrom"].astype(str).to_numpy(), "start": table["start"].to_numpy(np.int64),
              "end": table["end"].to_numpy(np.int64)}
    minus = (table["strand"].astype(str).to_numpy() == "-") if "strand" in table.columns else \
        np.zeros(len(table), dtype=bool)
    return SequenceInput(X, example_names(table), coords, minus, fa.chrom_sizes)


def npz_paths(npz: Path | None) -> list[Path]:
    """The files of ``--npz``: one path, or several joined by commas (one per input of a multi-input model).

    A path that exists as given is never split, so a file whose name holds a comma still reads as one input.
    """
    if npz is None:
        return []
    if "," in str(npz) and not Path(npz).exists():
        parts = [Path(part.strip()) for part in str(npz).split(",") if part.strip()]
        if not parts:
            raise InputError(f"--npz {str(npz)!r} names no files")
        return parts
    return [Path(npz)]


def read_matched_inputs(paths: list[Path]) -> list[SequenceInput]:
    """One :class:`SequenceInput` per file, rows matched by name as in prediction.

    Parameters
    ----------
    paths
        A DRG one-hot ``.npz`` or memory-mapped cache directory per input.

    Returns
    -------
    list of SequenceInput
        Per input, ``X`` ``(N, 4, L_i)`` holding the rows of the names of the first file, in that file's order,
        and those ``(N,)`` names. Every file must hold exactly those names (any order), else
        :class:`~drg.errors.InputError` (see :func:`drg.training.inputs.match_inputs`).
    """
    from drg.data import read_sequences as read_file
    from drg.training.inputs import match_inputs

    arrays, names = [], []
    for path in paths:
        data = read_file(path)
        arrays.append(data.X)
        names.append(np.asarray(data.names).astype(str))
    match = match_inputs(names, [str(p) for p in paths], missing="error")
    out = []
    for X, rows in zip(arrays, match.rows):
        same = len(rows) == len(X) and bool((rows == np.arange(len(rows))).all())
        out.append(SequenceInput(np.asarray(X) if same else np.asarray(X[rows]), match.names))
    return out


def model_input_count(model: Any) -> int:
    """Number of sequence inputs a model takes: ``config.n_inputs`` of a multi-input model, else 1."""
    n = getattr(getattr(model, "config", None), "n_inputs", None)
    return int(n) if n is not None else 1


def parse_tracks(tracks: str, groups: Path | None, names: list[str] | None) -> Any:
    """Track specification for :func:`drg.attribution.attribute` from ``--tracks`` and ``--groups``.

    ``tracks`` is ``all`` or a comma-separated list of indices and names; with a class file it selects
    groups by name. Unknown names raise :class:`InputError` listing the valid ones.
    """
    items = split_list(tracks)
    if not items:
        raise InputError("--tracks is empty; give 'all' or indices/names such as 0,3,liver")
    select_all = items == ["all"]

    def known(item: str, valid: list[str] | None, what: str) -> Any:
        if item.lstrip("-").isdigit() and (valid is None or item not in valid):
            return int(item)
        if valid is None:
            raise InputError(f"{what} {item!r} given by name but the model has no track names; use indices")
        if item not in valid:
            import difflib

            close = difflib.get_close_matches(item, valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            shown = ", ".join(valid[:30]) + (f", ... ({len(valid)} in all)" if len(valid) > 30 else "")
            raise InputError(f"unknown {what} {item!r}{hint}; valid names: {shown}")
        return item

    if groups is not None:
        from drg.attribution import read_track_groups

        table = read_track_groups(groups)
        for members in table.values():
            for member in members:
                known(member, names, f"track in {groups}")
        if select_all:
            return table
        group_names = list(table)
        chosen = []
        for item in items:
            g = known(item, group_names, "group")
            if isinstance(g, int):
                if not -len(group_names) <= g < len(group_names):
                    raise InputError(f"group index {g} out of range for {len(group_names)} groups in {groups}")
                g = group_names[g]
            chosen.append(g)
        return {g: table[g] for g in chosen}
    if select_all:
        return "all"
    return [known(item, names, "track") for item in items]


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def _stem(out: Path) -> str:
    return out.name[: -len(out.suffix)] if out.suffix else out.name


def _genomic(values: np.ndarray, x: np.ndarray, minus: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(T, 4, L)`` values and ``(4, L)`` one-hot turned to the forward strand when read from strand ``-``."""
    return (values[:, ::-1, ::-1], x[::-1, ::-1]) if minus else (values, x)


class _ForwardStrandValues:
    """Per-region values of an attribution file, reverse-complemented for regions read from strand ``-``."""

    def __init__(self, attributions: Any, minus: np.ndarray) -> None:
        from drg.attribution import densify

        self._a, self._minus, self._densify = attributions, minus, densify

    def __getitem__(self, key: tuple[int, int]) -> np.ndarray:
        i, t = key
        v = np.asarray(self._a.values[i, t], dtype=np.float32)
        if self._a.layout == "topk":
            v = self._densify(v[None, None], self._a.length)[0, 0]
        return v[::-1, ::-1] if self._minus[i] else v


def _write_bigwigs(out: Path, bigwig: Path, seqs: SequenceInput) -> list[Path]:
    from drg.attribution import export_bigwig, read_attributions

    a = read_attributions(out, lazy=True)
    stored = a.values
    try:
        if seqs.minus is not None and seqs.minus.any():
            X = np.asarray(a.X).copy()
            X[seqs.minus] = X[seqs.minus][:, ::-1, ::-1]
            a = replace(a, values=_ForwardStrandValues(replace(a), seqs.minus), X=X, layout="dense")
        return export_bigwig(a, bigwig, chrom_sizes=seqs.chrom_sizes, prefix=f"{_stem(out)}.")
    finally:
        if hasattr(stored, "file"):
            stored.file.close()


def _plot_logos(out: Path, model: Any, spec: Any, head: int | None, seqs: SequenceInput, values_of: Any,
                track_names: list[str], indices: list[int], window: tuple[int, int] | None,
                device: Any, raw: bool, ylabel: str, model_X: list[Any] | None = None) -> list[Path]:
    """Logo PNGs of the chosen sequences next to ``out``: ``<stem>.logo.<name>.png``.

    Logos show the observed base only, or all four bases for ``raw`` deltas (0 at the observed base); a heatmap
    of all four bases is drawn under each track. ``model_X`` gives every input of a multi-input model (``model``
    then takes them as positional arguments), for the predictions shown with the logos of ``seqs``.
    """
    import torch

    from drg.attribution.gradients import inference_state, resolve_device
    from drg.attribution.tracks import select_outputs
    from drg.plotting.logos import plot_attribution

    dev = resolve_device(device)
    xs = [torch.from_numpy(np.asarray(X[indices], dtype=np.float32)).to(dev)
          for X in (model_X if model_X is not None else [seqs.X])]
    with inference_state(model, dev):
        wrapped, _ = select_outputs(model, spec, [x[:1] for x in xs], head)
        with torch.no_grad():
            preds = wrapped(*xs).float().cpu().numpy()
    paths = []
    for row, i in enumerate(indices):
        minus = bool(seqs.minus[i]) if seqs.minus is not None else False
        vals, x = _genomic(values_of(i), np.asarray(seqs.X[i], dtype=np.float32), minus)
        coords = None
        if seqs.coordinates is not None:
            coords = (str(seqs.coordinates["chrom"][i]), int(seqs.coordinates["start"][i]))
        name = str(seqs.names[i])
        path = out.with_name(f"{_stem(out)}.logo.{_safe(name)}.png")
        plot_attribution(vals, X=None if raw else x, heatmap=True, track_names=track_names, predicted=preds[row], coordinates=coords,
                         ylabel=ylabel,
                         window=window, title=name + (" (strand -)" if minus else ""), path=path)
        paths.append(path)
    return paths


def _distributed_devices(devices: str | None, device: str | None) -> Any:
    """Lightning ``devices`` for a multi-device run, or None for the single-device path (no or one device)."""
    parsed = parse_devices(devices)
    if parsed is None or parsed == 1:
        return None
    if device is not None:
        raise InputError("give either --device (one device) or --devices/--accelerator (several), not both")
    return parsed


def attribute(
    model: Annotated[Path, typer.Option("--model", help="Checkpoint or run directory (drg train), or a model "
                                        "directory (drg.models.save_model).")],
    out: Annotated[Path, typer.Option("--out", help="Output attribution file: .npz, or .h5 (chunked HDF5).")],
    npz: Annotated[Path | None, typer.Option("--npz", help="DRG one-hot .npz of sequences (or a memmap cache "
                                             "directory); for a multi-input model one per input joined by commas, "
                                             "a.npz,b.npz (rows matched by name), written as <out>.input0.npz, "
                                             "<out>.input1.npz, ...")] = None,
    fasta: Annotated[Path | None, typer.Option("--fasta", help="FASTA file of sequences.")] = None,
    genome: Annotated[Path | None, typer.Option("--genome", help="Genome FASTA (with --regions).")] = None,
    regions: Annotated[Path | None, typer.Option(
        "--regions", help="BED/narrowPeak regions (0-based); strand '-' regions are read reverse-complemented.")] = None,
    length: Annotated[int | None, typer.Option(
        "--length", help="Resize regions around their centre / centre-pad FASTA sequences to this length.")] = None,
    method: Annotated[str, typer.Option(
        "--method", help="gradient, tism, ism, deeplift_shap, integrated_gradients or smoothgrad.")] = "tism",
    gauge: Annotated[str | None, typer.Option(
        "--gauge", help="Gauge (default: raw for tism/ism, hypothetical for gradient/deeplift_shap, global for "
        "integrated_gradients, local for smoothgrad).")] = None,
    tracks: Annotated[str, typer.Option(
        "--tracks", help="'all' or comma-separated indices/names (group names with --groups).")] = "all",
    groups: Annotated[Path | None, typer.Option(
        "--groups", help="Class file 'track class': attribute the mean of each class's tracks.")] = None,
    head: Annotated[int | None, typer.Option("--head", help="Output head of a multi-head model.")] = None,
    which: Annotated[str, typer.Option("--which", help="Checkpoint of a run directory: best or last.")] = "best",
    batch_size: Annotated[int | None, typer.Option(
        "--batch-size", help="Sequences (ISM: edited sequences) per model call.")] = None,
    chunk_size: Annotated[int, typer.Option(
        "--chunk-size", help="Sequences attributed and written per chunk.")] = 1024,
    device: Annotated[str | None, typer.Option("--device", help="cpu or cuda (default: cuda when available).")] = None,
    n_samples: Annotated[int | None, typer.Option(
        "--n-samples", help="References (deeplift_shap), steps (integrated_gradients) or noise samples "
        "(smoothgrad).")] = None,
    topk: Annotated[int | None, typer.Option(
        "--topk", help="Store only the K positions with the largest |value| at the observed base (raw gauge: "
        "over the 4 bases).")] = None,
    bigwig: Annotated[Path | None, typer.Option(
        "--bigwig", help="Directory for one bigWig per track of the observed-base values (genome regions).")] = None,
    plot: Annotated[int, typer.Option("--plot", help="Write logo PNGs of the first N sequences.")] = 0,
    plot_names: Annotated[str | None, typer.Option(
        "--plot-names", help="Comma-separated sequence names to draw logos for.")] = None,
    plot_window: Annotated[str | None, typer.Option(
        "--plot-window", help="START,END of the logos' x axis (genomic positions for regions).")] = None,
    devices: Annotated[str | None, typer.Option(
        "--devices", help="Attribute over several devices/processes through Lightning: a count, 'auto' or a "
        "list '0,1' (default: one device, --device).")] = None,
    strategy: Annotated[str | None, typer.Option("--strategy", help="Lightning strategy with --devices, e.g. "
                                                 "ddp.")] = None,
    accelerator: Annotated[str | None, typer.Option("--accelerator", help="cpu, gpu or auto (with "
                                                    "--devices).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Attributions of the selected tracks to every base of every sequence, written with names, track names,
    method, gauge and model provenance."""
    from drg.attribution import METHODS, AttributionWriter, to_topk, write_attributions
    from drg.attribution import attribute as run
    from drg.attribution.tracks import model_output_names
    from drg.utils import progress

    if method not in METHODS:
        raise InputError(f"unknown --method {method!r}; expected one of {', '.join(METHODS)}")
    suffix = out.suffix.lower()
    if suffix not in (".npz", ".h5", ".hdf5"):
        raise InputError(f"--out must end in .npz or .h5; got {out.name!r}")
    if chunk_size < 1 or (batch_size is not None and batch_size < 1):
        raise InputError("--chunk-size and --batch-size must be positive")
    window = None
    if plot_window is not None:
        parts = split_list(plot_window)
        if len(parts) != 2 or not all(p.lstrip("-").isdigit() for p in parts):
            raise InputError(f"--plot-window must be START,END; got {plot_window!r}")
        window = (int(parts[0]), int(parts[1]))
    gauge = gauge or _DEFAULT_GAUGE[method]
    verbose = not quiet
    net, info = load_attribution_model(model, which)
    paths = npz_paths(npz)
    n_model = model_input_count(net)
    multi = n_model > 1 or len(paths) > 1
    if multi:
        if fasta is not None or genome is not None or regions is not None:
            raise InputError(f"the model takes {n_model} sequence inputs but 1 was given; give them as --npz "
                             "with one file per input joined by commas (a.npz,b.npz), not --fasta or "
                             "--genome/--regions")
        if len(paths) != n_model:
            raise InputError(f"the model takes {n_model} sequence input(s) but --npz gives {len(paths)} file(s) "
                             f"({', '.join(map(str, paths))}); give one file per input joined by commas")
        if method not in MULTI_INPUT_METHODS:
            raise InputError(f"--method {method} does not support multi-input models; use one of "
                             f"{', '.join(MULTI_INPUT_METHODS)}")
        inputs = read_matched_inputs(paths)
    else:
        inputs = [read_sequences(npz=npz, fasta=fasta, genome=genome, regions=regions, length=length,
                                 verbose=verbose)]
    seqs = inputs[0]
    N = seqs.X.shape[0]
    lengths = [int(s.X.shape[2]) for s in inputs]
    if N == 0:
        raise InputError("no sequences to attribute")
    if bigwig is not None and seqs.coordinates is None:
        raise InputError("--bigwig needs sequences with genome coordinates (--genome and --regions)")
    if topk is not None and not 1 <= topk <= min(lengths):
        raise InputError(f"--topk must be between 1 and the sequence length {min(lengths)}; got {topk}")
    spec = parse_tracks(tracks, groups, model_output_names(net, head))
    kwargs: dict[str, Any] = {}
    if n_samples is not None:
        if method not in _SAMPLE_ARG:
            raise InputError(f"--n-samples applies to {', '.join(_SAMPLE_ARG)}, not {method}")
        kwargs[_SAMPLE_ARG[method]] = n_samples
    import torch

    from drg.attribution.gradients import inference_state, resolve_device
    from drg.attribution.tracks import select_outputs

    distributed = _distributed_devices(devices, device)
    if distributed is not None and multi:
        raise InputError("--devices (several devices) supports single-input models only; use --device")
    dev = resolve_device("cpu" if distributed is not None else device)
    with inference_state(net, dev):
        first = [torch.from_numpy(np.asarray(s.X[:1], dtype=np.float32)).to(dev) for s in inputs]
        _, selection = select_outputs(net, spec, first, head)
    info = {**info, "head": head, "tracks": tracks, "groups": None if groups is None else str(groups)}
    if multi:
        outs = [out.with_name(f"{_stem(out)}.input{i}{out.suffix}") for i in range(len(inputs))]
        infos = [{**info, "input": i, "n_inputs": len(inputs), "input_files": [str(p) for p in paths]}
                 for i in range(len(inputs))]
    else:
        outs, infos = [out], [info]

    by = "max_abs" if gauge == "raw" else "max_abs_ref"  # raw deltas are 0 at the observed base
    starts = range(0, N, chunk_size)
    single = len(starts) == 1
    computed = None
    if distributed is not None:
        from drg.attribution._distributed import attribute_distributed

        result = attribute_distributed(net, seqs.X, method, spec, gauge, out=out, devices=distributed,
                                       strategy=strategy, accelerator=accelerator, batch_size=batch_size,
                                       chunk_size=chunk_size, head=head, verbose=verbose, **kwargs)
        if result is None:  # not process 0: process 0 writes the outputs
            return
        computed = result.values
        infos = [{**infos[0], "world_size": result.world_size}]

    def chunks():
        """``(start, [x per input], [values per input])`` of every chunk of sequences."""
        for lo in progress(starts, total=len(starts), description=f"{method} attributions",
                           verbose=verbose and not single and computed is None):
            xs = [np.asarray(s.X[lo:lo + chunk_size]) for s in inputs]
            if computed is not None:
                values = [computed[lo:lo + chunk_size]]
            else:
                floats = [x.astype(np.float32) for x in xs]
                got = run(net, floats if multi else floats[0], method, spec, gauge, None, batch_size, device,
                          head=head, verbose=verbose and single, **kwargs)
                values = list(got) if multi else [got]
            if topk is not None:
                values = [to_topk(v, topk, by=by, X=x) for v, x in zip(values, xs)]
            yield lo, xs, values

    coords = seqs.coordinates
    part = (lambda lo, n: {k: v[lo:lo + n] for k, v in coords.items()}) if coords is not None else \
        (lambda lo, n: None)
    kept: dict[int, list[np.ndarray]] = {}
    wanted = set(range(min(plot, N)))
    if plot_names:
        lookup = {str(n): i for i, n in enumerate(seqs.names)}
        missing = [n for n in split_list(plot_names) if n not in lookup]
        if missing:
            raise InputError(f"--plot-names: unknown sequence names {missing[:5]}; first names are "
                             f"{', '.join(map(str, seqs.names[:5]))}")
        wanted |= {lookup[n] for n in split_list(plot_names)}

    def keep(lo: int, values: list[np.ndarray]) -> None:
        for i in range(lo, lo + len(values[0])):
            if i in wanted:
                kept[i] = [v[i - lo] for v in values]

    if suffix == ".npz":
        blocks: list[list[np.ndarray]] = [[] for _ in inputs]
        for lo, _xs, values in chunks():
            for block, v in zip(blocks, values):
                block.append(v)
            keep(lo, values)
        for path, s, block, meta in zip(outs, inputs, blocks, infos):
            write_attributions(path, np.concatenate(block), s.names, selection.names, method=method, gauge=gauge,
                               model_info=meta, X=s.X, coordinates=coords, length=int(s.X.shape[2]))
    else:
        from contextlib import ExitStack

        with ExitStack() as stack:
            writers = [stack.enter_context(AttributionWriter(path, selection.names, int(s.X.shape[2]),
                                                             method=method, gauge=gauge, model_info=meta, topk=topk))
                       for path, s, meta in zip(outs, inputs, infos)]
            for lo, xs, values in chunks():
                n = len(values[0])
                for writer, x, v in zip(writers, xs, values):
                    writer.write(v, seqs.names[lo:lo + n], X=x, coordinates=part(lo, n))
                keep(lo, values)
    written = ", ".join(map(str, outs))
    done(f"{method} attributions ({gauge}) of {N} sequences x {len(selection.names)} tracks written to {written}")
    if bigwig is not None:
        if gauge == "raw":
            import warnings

            from drg.errors import DRGWarning

            warnings.warn(f"{method} values in the raw gauge are 0 at the observed base, so the bigWig files hold "
                          "zeros; use --gauge corrected for observed-base scores", DRGWarning, stacklevel=2)
        bw_paths = _write_bigwigs(out, bigwig, seqs)
        done(f"{len(bw_paths)} bigWig file(s) written to {bigwig}")
    if kept:
        from drg.attribution import densify

        logos = 0
        for k, (path, s) in enumerate(zip(outs, inputs)):
            def values_of(i: int, k: int = k, L: int = int(s.X.shape[2])) -> np.ndarray:
                v = kept[i][k]
                return densify(v[None], L)[0] if topk is not None else v

            logos += len(_plot_logos(path, net, spec, head, s, values_of, selection.names, sorted(kept),
                                     window, device, raw=gauge == "raw", ylabel=f"{method} ({gauge})",
                                     model_X=[t.X for t in inputs] if multi else None))
        done(f"{logos} logo plot(s) written next to {written}")


app = typer.Typer(help="Attributions of a trained model.", pretty_exceptions_enable=False, add_completion=False)
app.command()(attribute)

if __name__ == "__main__":
    run_app(app)
