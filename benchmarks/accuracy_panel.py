"""Every registered spiking neuron next to a GRU and an LSTM of the same width, on a panel of offline data sets.

    python benchmarks/accuracy_panel.py                        # all neurons, GRU, LSTM; 10 data sets x 3 seeds
    python benchmarks/accuracy_panel.py --datasets GunPoint,digits --seeds 0 --epochs 5
    python benchmarks/accuracy_panel.py --neurons lif,alif --baselines gru --layers 2
    python benchmarks/accuracy_panel.py --neurons alif --baselines '' --cell-args '{"adaptation": 1.8}'
    python benchmarks/accuracy_panel.py --resume               # skip the runs OUTPUT_DIR/panel.json already holds
    python benchmarks/accuracy_panel.py --replot runs/accuracy_panel/panel.json
    python benchmarks/accuracy_panel.py --quick                # a smoke run of every code path (the tests)

The data sets: MNIST-1D raw (40 x 1) and as 8-sample frames (40 x 8), scikit-learn's digits pixel by pixel
(64 x 1) and with permuted pixels, and the six UCR/UEA sets that aeon bundles (keras_spiking_rnn.data.load_ucr,
z-normalized; PickupGestureWiimoteZ has variable lengths, padded with PAD_VALUE and masked).

The models: every neuron of ``available_neurons(spiking=True)`` (new registrations join automatically) as
``--layers`` x ``SpikingRNN(units, neuron=name, return_sequences=True)`` with the library's defaults, no
per-data-set or per-neuron tuning (``--cell-args`` adds arguments, for ablations), and a ``LeakyReadout(classes)``
(its default: the last step's potential);
``GRU(units)`` and ``LSTM(units)`` with a ``Dense(classes)`` on the last step.
Every model gets the same budget: Adam with a cosine
decay from ``--learning-rate``, ``--epochs``, ``--batch-size``, the same seeds.

Reported per data set and model: test and train accuracy (mean and sd over the seeds; sd with ddof=1, 0 for one
seed), parameters, MACs and ACs per step (keras_spiking_rnn.analysis.count_operations on up to 200 test
sequences), training seconds; and the GRU gap, the best spiking model's mean test accuracy minus the GRU's, in
points. Results go to ``--output-dir``: panel.json (every run and the summary, rewritten after each run),
panel.md and panel.png (grouped bars of test accuracy with sd error bars).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

from keras_spiking_rnn import LeakyReadout, SpikingRNN
from keras_spiking_rnn.analysis.report import count_operations
from keras_spiking_rnn.cells.neuron import available_neurons, get_neuron
from keras_spiking_rnn.data import PAD_VALUE
from keras_spiking_rnn.data.ucr import BUNDLED

DATASETS = ("mnist1d", "mnist1d_frames", "digits", "digits_permuted", *BUNDLED)
BASELINES = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}
# the settings a resumed run must share with the recorded runs
BUDGET = ("epochs", "batch_size", "learning_rate", "units", "layers", "max_train", "max_steps", "cell_args")

Split = tuple[np.ndarray, np.ndarray]


def load_dataset(name: str, max_train: int | None, max_steps: int | None) -> tuple[Split, Split, bool]:
    """``(train, test, masked)``: the data set's arrays (n, timesteps, features), cropped; masked: has padding."""
    from keras_spiking_rnn import data

    masked = False
    if name.startswith("mnist1d"):
        (x, y), (x_test, y_test) = data.load_mnist1d()  # (n, 40, 1)
        window = 8 if name == "mnist1d_frames" else 1
        train, test = (data.sliding_windows(x, window), y), (data.sliding_windows(x_test, window), y_test)
    elif name.startswith("digits"):
        train, test = data.load_digits_sequences(permute=name == "digits_permuted")
    else:
        train, test = data.load_ucr(name)
        masked = bool(np.any(np.all(train[0] == PAD_VALUE, axis=-1)) or np.any(np.all(test[0] == PAD_VALUE, -1)))
    if max_train is not None and max_train < len(train[0]):  # a fixed random subset, in the original order
        keep = np.sort(np.random.default_rng(0).permutation(len(train[0]))[:max_train])
        train = (train[0][keep], train[1][keep])
    if max_steps is not None:
        train, test = (train[0][:, :max_steps], train[1]), (test[0][:, :max_steps], test[1])
    return train, test, masked


def build(
    model: str, features: int, classes: int, units: int, layers: int, masked: bool, cell_args: dict | None = None
) -> keras.Model:
    """A spiking model (library defaults, updated by ``cell_args``) or a GRU/LSTM baseline, optionally behind
    ``Masking(PAD_VALUE)``."""
    stack = [keras.Input((None, features))]
    if masked:
        stack.append(keras.layers.Masking(PAD_VALUE))
    if model in BASELINES:
        stack += [BASELINES[model](units), keras.layers.Dense(classes)]
    else:
        stack += [SpikingRNN(units, neuron=model, return_sequences=True, **(cell_args or {})) for _ in range(layers)]
        stack.append(LeakyReadout(classes))
    return keras.Sequential(stack, name=model)


def run_one(model_name: str, seed: int, train: Split, test: Split, masked: bool, args: argparse.Namespace) -> dict:
    """Trains one model with the shared budget; returns its run record."""
    (x, y), (x_test, y_test) = train, test
    classes = int(max(y.max(), y_test.max()) + 1)
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = build(model_name, x.shape[-1], classes, args.units, args.layers, masked, args.cell_args)
    steps = args.epochs * int(np.ceil(len(x) / args.batch_size))
    model.compile(
        keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(args.learning_rate, steps)),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, verbose=0)
    seconds = time.perf_counter() - start
    operations = count_operations(model, x_test[:200])
    return {
        "model": model_name,
        "seed": seed,
        "test_accuracy": float(model.evaluate(x_test, y_test, batch_size=256, verbose=0)[1]),
        "train_accuracy": float(model.evaluate(x, y, batch_size=256, verbose=0)[1]),
        "train_seconds": round(seconds, 2),
        "parameters": int(model.count_params()),
        "macs_per_step": operations.macs_per_step,
        "acs_per_step": operations.acs_per_step,
    }


def _mean_sd(values: list[float]) -> tuple[float, float]:
    return float(np.mean(values)), (float(np.std(values, ddof=1)) if len(values) > 1 else 0.0)


def summarize(results: dict) -> dict:
    """``{dataset: {"models": {model: statistics}, "best_spiking", "gru_gap_points"}}`` from the runs alone."""
    settings, summary = results["settings"], {}
    models = [*settings["neurons"], *settings["baselines"]]
    for dataset in settings["datasets"]:
        rows = {}
        for model in models:
            runs = [r for r in results["runs"] if r["dataset"] == dataset and r["model"] == model]
            if not runs:
                continue
            test_mean, test_sd = _mean_sd([r["test_accuracy"] for r in runs])
            train_mean, train_sd = _mean_sd([r["train_accuracy"] for r in runs])
            rows[model] = {
                "seeds": sorted(r["seed"] for r in runs),
                "test_mean": test_mean,
                "test_sd": test_sd,
                "train_mean": train_mean,
                "train_sd": train_sd,
                "parameters": runs[0]["parameters"],
                "macs_per_step": float(np.mean([r["macs_per_step"] for r in runs])),
                "acs_per_step": float(np.mean([r["acs_per_step"] for r in runs])),
                "train_seconds": float(np.mean([r["train_seconds"] for r in runs])),
            }
        if not rows:
            continue
        spiking = [m for m in settings["neurons"] if m in rows]
        best = max(spiking, key=lambda m: rows[m]["test_mean"]) if spiking else None
        gap = 100 * (rows[best]["test_mean"] - rows["gru"]["test_mean"]) if best and "gru" in rows else None
        summary[dataset] = {"models": rows, "best_spiking": best, "gru_gap_points": gap}
    return summary


def _accuracy_cell(s: dict | None, seeds: int) -> str:
    if s is None:
        return "-"
    incomplete = f" [{len(s['seeds'])} of {seeds} seeds]" if len(s["seeds"]) < seeds else ""
    return f"{100 * s['test_mean']:.1f} ± {100 * s['test_sd']:.1f} ({100 * s['train_mean']:.1f}){incomplete}"


def to_markdown(results: dict) -> str:
    """The accuracy table (rows: data sets) and the cost table (rows: data set and model)."""
    settings, summary = results["settings"], results["summary"]
    models = [*settings["neurons"], *settings["baselines"]]
    shown = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in settings.items()}
    budget = ", ".join(f"{k} {shown[k]}" for k in BUDGET if settings.get(k) is not None)
    lines = [
        f"Command: `{results['command']}`",
        "",
        f"Budget for every model: {budget}; seeds {', '.join(map(str, settings['seeds']))}.",
        "",
        "### Test accuracy, % (mean ± sd over seeds; train mean)",
        "",
        "| dataset | " + " | ".join(models) + " | GRU gap (points) |",
        "| --- |" + " ---: |" * (len(models) + 1),
    ]
    for dataset, entry in summary.items():
        cells = [_accuracy_cell(entry["models"].get(model), len(settings["seeds"])) for model in models]
        gap = entry["gru_gap_points"]
        cells.append("-" if gap is None else f"{gap:+.1f} ({entry['best_spiking']})")
        lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "### Cost (MACs and ACs per step on up to 200 test sequences, mean over seeds)",
        "",
        "| dataset | model | parameters | MACs / step | ACs / step | train seconds |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for dataset, entry in summary.items():
        for model, s in entry["models"].items():
            lines.append(
                f"| {dataset} | {model} | {s['parameters']:,} | {s['macs_per_step']:,.0f} "
                f"| {s['acs_per_step']:,.0f} | {s['train_seconds']:.1f} |"
            )
    return "\n".join(lines) + "\n"


def plot(results: dict) -> bytes | None:
    """Grouped bars of test accuracy per data set and model with sd error bars, as PNG bytes; None without
    matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no panel.png: matplotlib is missing (pip install 'keras-spiking-rnn[plots]')")
        return None
    settings, summary = results["settings"], results["summary"]
    models = [*settings["neurons"], *settings["baselines"]]
    datasets = list(summary)
    width = 0.8 / max(len(models), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.25 * len(datasets) * len(models) + 2), 4.2))
    for i, model in enumerate(models):
        stats = [summary[d]["models"].get(model) for d in datasets]
        ax.bar(
            np.arange(len(datasets)) + (i - (len(models) - 1) / 2) * width,
            [100 * s["test_mean"] if s else np.nan for s in stats],
            width,
            yerr=[100 * s["test_sd"] if s else 0.0 for s in stats],
            capsize=2,
            label=model,
            hatch="//" if model in BASELINES else None,
        )
    ax.set_xticks(np.arange(len(datasets)), datasets, rotation=30, ha="right")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"{settings['layers']} x {settings['units']} units, {settings['epochs']} epoch(s)", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=min(len(models), 6), loc="lower center", bbox_to_anchor=(0.5, 1.08))
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=150)
    plt.close(fig)
    return buffer.getvalue()


def write_atomic(path: Path, content: str | bytes) -> None:
    """Writes ``content`` to a temporary file beside ``path``, then renames it over ``path``."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content.encode() if isinstance(content, str) else content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_outputs(results: dict, directory: Path, figure: bool = True, json_too: bool = True) -> str:
    """panel.json, panel.md and (with ``figure``) panel.png in ``directory``; returns the Markdown."""
    results["summary"] = summarize(results)
    if json_too:
        write_atomic(directory / "panel.json", json.dumps(results, indent=2) + "\n")
    table = to_markdown(results)
    write_atomic(directory / "panel.md", table)
    png = plot(results) if figure else None
    if png is not None:
        write_atomic(directory / "panel.png", png)
    return table


def _cell_args(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not JSON ({error}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object such as '{{\"adaptation\": 1.8}}', got {text!r}")
    return value


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    neurons = available_neurons(spiking=True)
    parser.add_argument("--datasets", type=_names, default=list(DATASETS), help=f"of {','.join(DATASETS)}")
    parser.add_argument("--neurons", type=_names, default=neurons, help=f"of {','.join(neurons)} (default all)")
    parser.add_argument("--baselines", type=_names, default=list(BASELINES), help="of gru,lstm ('' for none)")
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--layers", type=int, default=1, help="spiking layers (the baselines have one)")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--seeds", type=lambda s: [int(v) for v in _names(s)], default=[0, 1, 2])
    parser.add_argument("--max-train", type=int, help="train on at most N sequences (a fixed random subset)")
    parser.add_argument("--max-steps", type=int, help="crop every sequence to its first N steps")
    parser.add_argument(
        "--cell-args",
        type=_cell_args,
        help="JSON object of arguments for every spiking layer, beyond the defaults, e.g. '{\"adaptation\": 1.8}'",
    )
    parser.add_argument("--quick", action="store_true", help="ItalyPowerDemand, 1 epoch, 1 seed, 8 units")
    parser.add_argument("--resume", action="store_true", help="skip the runs OUTPUT_DIR/panel.json already holds")
    parser.add_argument("--output-dir", type=Path, default=Path("runs/accuracy_panel"))
    parser.add_argument("--replot", type=Path, help="rewrite panel.md/.png beside a panel.json from it alone")
    args = parser.parse_args(argv)
    if args.quick:
        args.datasets, args.epochs, args.seeds, args.units = ["ItalyPowerDemand"], 1, [0], 8
        args.neurons, args.baselines = neurons, list(BASELINES)
    for option, values, known in (
        ("datasets", args.datasets, DATASETS),
        ("neurons", args.neurons, neurons),
        ("baselines", args.baselines, BASELINES),
    ):
        unknown = [v for v in values if v not in known]
        if unknown:
            parser.error(f"--{option}: unknown {unknown}; choose from {','.join(known)}")
    for option in ("units", "layers", "epochs", "batch_size", "max_train", "max_steps"):
        value = getattr(args, option)
        if value is not None and value < 1:
            parser.error(f"--{option.replace('_', '-')} must be >= 1, got {value}")
    if not args.seeds or not (args.neurons or args.baselines):
        parser.error("give at least one seed and one model")
    for name in args.neurons if args.cell_args else ():  # refused before any training, not after some neurons
        try:
            get_neuron(name)(1, **args.cell_args)
        except (TypeError, ValueError) as error:
            parser.error(f"--cell-args {json.dumps(args.cell_args)} does not fit neuron {name!r}: {error}")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.replot is not None:
        results = json.loads(args.replot.read_text())
        print(write_outputs(results, args.replot.parent, json_too=False))
        return results
    keys = ("datasets", "neurons", "baselines", "seeds", *BUDGET)
    settings = {key: getattr(args, key) for key in keys}
    command = shlex.join(sys.argv[1:] if argv is None else argv)  # quoted, so that it reruns as printed
    results = {"command": f"python benchmarks/accuracy_panel.py {command}".strip(), "settings": settings, "runs": []}
    args.output_dir.mkdir(parents=True, exist_ok=True)
    previous = args.output_dir / "panel.json"
    if args.resume and previous.exists():
        recorded = json.loads(previous.read_text())
        changed = [k for k in BUDGET if recorded["settings"].get(k) != settings[k]]
        if changed:
            raise SystemExit(f"--resume: {previous} was trained with other settings ({', '.join(changed)})")
        results["runs"] = recorded["runs"]
        for key, order in (("datasets", DATASETS), ("neurons", None), ("baselines", tuple(BASELINES)), ("seeds", None)):
            merged = set(settings[key]) | set(recorded["settings"][key])  # the tables keep the recorded runs
            settings[key] = sorted(merged, key=order.index if order else None)
        print(f"resuming: {len(results['runs'])} runs recorded in {previous}", flush=True)
    done = {(r["dataset"], r["model"], r["seed"]) for r in results["runs"]}
    for dataset in args.datasets:
        todo = [(m, s) for m in (*args.neurons, *args.baselines) for s in args.seeds if (dataset, m, s) not in done]
        if not todo:
            continue
        train, test, masked = load_dataset(dataset, args.max_train, args.max_steps)
        print(f"{dataset}: {len(train[0])} train, {len(test[0])} test sequences of {train[0].shape[1:]}", flush=True)
        for model, seed in todo:
            run = {"dataset": dataset, **run_one(model, seed, train, test, masked, args)}
            results["runs"].append(run)
            write_outputs(results, args.output_dir, figure=False)  # survives an interruption
            print(
                f"{dataset} | {model} | seed {seed}: test {run['test_accuracy']:.3f}, "
                f"train {run['train_accuracy']:.3f}, {run['train_seconds']:.1f} s",
                flush=True,
            )
    print(write_outputs(results, args.output_dir))
    return results


if __name__ == "__main__":
    main()
