"""Training-step speed of spiking RNNs against Keras's LSTM and GRU, and the machine's matmul rate.

Times a full training step (forward, backpropagation through time, Adam
update; ``model.train_on_batch``) of each model in one run, on the same
synthetic batch, and reports medians after warm-up, ratios to the LSTM and
model FLOP utilisation (MFU): the model's matrix-product FLOPs per step over
the step time, as a fraction of the FLOP/s a large float32 matmul attains on
this machine in the same run. The models and the matmul are timed in turns
(one step each per round), so that a shared machine's changing load affects
them alike. The FLOPs are those of the forward products, times 3 for the
backward pass (the usual convention).

The reference workload (the default) is SHD-like: 700 input channels with 2%
of them spiking per step, 250 steps, batch 32, two recurrent layers of 128
neurons and 20 classes.

Usage::

    python benchmarks/training_speed.py                       # the reference workload, every variant
    python benchmarks/training_speed.py --memory              # also peak memory at T=250 and T=1000 (first variant)
    python benchmarks/training_speed.py --timesteps 20 --steps 3 --models alif,lstm   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

SPIKING = ("alif", "lif", "gated")
KERAS_RNNS = ("lstm", "gru")
MODELS = SPIKING + KERAS_RNNS


def build_model(kind: str, features: int, units: int, classes: int, bptt: str = "fused", jit_loops: bool = True):
    """Two recurrent layers of ``units`` and a classifier: a spiking RNN + LeakyReadout, or LSTM/GRU + Dense."""
    import keras

    from keras_spiking_rnn import LeakyReadout, SpikingRNN

    inputs = keras.Input((None, features))
    if kind in SPIKING:
        options = {"bptt": bptt, "jit_compile": jit_loops}
        hidden = SpikingRNN(units, neuron=kind, return_sequences=True, **options)(inputs)
        hidden = SpikingRNN(units, neuron=kind, return_sequences=True, **options)(hidden)
        outputs = LeakyReadout(classes, **options)(hidden)
    elif kind in KERAS_RNNS:
        layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[kind]
        hidden = layer(units, return_sequences=True)(inputs)
        hidden = layer(units)(hidden)
        outputs = keras.layers.Dense(classes)(hidden)
    else:
        raise ValueError(f"`kind` must be one of {MODELS}, got {kind!r}.")
    return keras.Model(inputs, outputs, name=kind)


#: How each model is run: (name, bptt, XLA on the fused loops, XLA on the whole training step).
VARIANTS = {
    "fused": ("fused", True, False),  # the default: the layers' two loops, compiled with XLA
    "fused-no-xla": ("fused", False, False),
    "autodiff": ("autodiff", False, False),  # keras.layers.RNN's loop differentiated by TensorFlow
    "model-xla": ("fused", True, True),  # and model.compile(jit_compile=True)
}


def forward_matmul_flops(model, batch: int, timesteps: int) -> int:
    """Multiply-add FLOPs (2 per MAC) of the matrix products of one forward pass.

    Every 2-D weight (kernel, recurrent kernel) is one matrix product per
    timestep, except a Dense layer's, applied once to the last step.
    """
    import keras

    flops = 0
    for layer in model.layers:
        per_sequence = 1 if isinstance(layer, keras.layers.Dense) else timesteps
        for weight in layer.weights:
            if len(weight.shape) == 2:
                flops += 2 * batch * per_sequence * int(np.prod(weight.shape))
    return flops


def interleaved_medians(runs, warmup: int, steps: int) -> list[float]:
    """Median wall time of each of ``runs`` over ``steps`` rounds that call every run once, in turn.

    Interleaving spreads a shared machine's changing load over all runs alike, so that their ratios hold
    even when the absolute times drift.
    """
    for run in runs:
        for _ in range(warmup):
            run()
    times = [[] for _ in runs]
    for _ in range(steps):
        for run, record in zip(runs, times):
            start = time.perf_counter()
            run()
            record.append(time.perf_counter() - start)
    return [float(np.median(record)) for record in times]


def large_matmul(size: int = 2048):
    """A ``size`` x ``size`` float32 matrix product and its FLOPs: the machine's attainable rate."""
    import tensorflow as tf

    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    product = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    return (lambda: product().numpy()), 2 * size**3


def make_batch(batch: int, timesteps: int, features: int, classes: int, density: float, seed: int = 0):
    """Bernoulli(``density``) 0/1 spike input (batch, timesteps, features) and integer labels (batch,)."""
    rng = np.random.default_rng(seed)
    x = (rng.random((batch, timesteps, features), dtype="float32") < density).astype("float32")
    y = rng.integers(0, classes, size=batch)
    return x, y


def compiled(model, jit_compile: bool):
    import keras

    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.Adam(1e-3), loss, jit_compile=jit_compile)
    return model


def variant_model(kind: str, variant: str, args):
    bptt, jit_loops, jit_model = VARIANTS[variant]
    model = build_model(kind, args.features, args.units, args.classes, bptt, jit_loops)
    return compiled(model, jit_model)


def training_step(kind: str, variant: str, args, x, y):
    """A model of ``kind`` run as ``variant``, its one-batch training step, and its row of results."""
    import keras

    keras.utils.set_random_seed(args.seed)
    model = variant_model(kind, variant, args)
    flops = 3 * forward_matmul_flops(model, args.batch, args.timesteps)  # forward + 2x for the backward pass
    row = {"model": kind, "variant": variant, "train_matmul_flops": flops}
    return (lambda: model.train_on_batch(x, y)), row


def rows_to_run(args) -> list[tuple[str, str]]:
    """(model, variant) pairs: each spiking model in every variant asked for, LSTM/GRU plain and with XLA."""
    rows = []
    for kind in args.kinds:
        for variant in args.variants:
            if kind in SPIKING or variant in ("fused", "model-xla"):  # the Keras RNNs: plain and whole-model XLA
                rows.append((kind, variant))
    return rows


def peak_memory_probe(kind: str, args, timesteps: int) -> int:
    """Peak resident memory (bytes) training steps add, measured in a fresh Python process (Linux)."""
    command = [sys.executable, __file__, "--memory-probe", kind, "--timesteps", str(timesteps)]
    for name in ("batch", "features", "units", "classes", "density", "seed"):
        command += [f"--{name}", str(getattr(args, name))]
    command += ["--variants", args.variants[0]]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"memory probe of {kind} at T={timesteps} failed:\n{result.stderr[-3000:]}")
    return int(result.stdout.strip().splitlines()[-1])


def run_memory_probe(args) -> None:
    """Prints the growth of peak RSS over three training steps, data and model already built.

    The weights are restored before each step: over 1000 steps, some default-initialised models' gradients
    overflow float32 on this random input, and a step with NaN weights would measure nothing.
    """
    x, y = make_batch(args.batch, args.timesteps, args.features, args.classes, args.density, args.seed)
    model = variant_model(args.memory_probe, args.variants[0], args)
    model(x[:1, :2])  # build the weights outside the measurement
    weights = model.get_weights()
    before = _reset_peak_rss()
    for _ in range(3):
        model.set_weights(weights)
        model.train_on_batch(x, y)
    print(_status_bytes("VmHWM") - before)


def _reset_peak_rss() -> int:
    """Resets the process's peak resident memory to the current one (Linux) and returns it, in bytes."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # 5: reset the peak RSS (VmHWM), see proc(5)
    return _status_bytes("VmRSS")


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024  # reported in kB
    raise RuntimeError(f"/proc/self/status has no {field}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, from {MODELS}")
    parser.add_argument("--timesteps", type=int, default=250)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--features", type=int, default=700)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--density", type=float, default=0.02, help="fraction of input channels active per step")
    parser.add_argument("--steps", type=int, default=15, help="timed training steps per model, interleaved")
    parser.add_argument("--warmup", type=int, default=3, help="untimed training steps first (tracing, compiling)")
    parser.add_argument(
        "--variants",
        default="fused,fused-no-xla,autodiff,model-xla",
        help=f"comma-separated, from {tuple(VARIANTS)}; LSTM and GRU run as 'fused' (plain) and 'model-xla'",
    )
    parser.add_argument("--memory", action="store_true", help="also measure peak memory at --memory-timesteps")
    parser.add_argument("--memory-timesteps", default="250,1000", help="two sequence lengths for --memory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--memory-probe", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.models.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(MODELS))
    if unknown or not kinds:
        parser.error(f"--models: unknown {unknown}; choose from {MODELS}")
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if not variants or set(variants) - set(VARIANTS):
        parser.error(f"--variants: unknown {sorted(set(variants) - set(VARIANTS))}; choose from {tuple(VARIANTS)}")
    args.kinds, args.variants = kinds, variants
    args.memory_timesteps = [int(t) for t in args.memory_timesteps.split(",")]
    if len(args.memory_timesteps) != 2 or min(args.memory_timesteps) <= 0:
        parser.error(f"--memory-timesteps: two positive lengths, e.g. 250,1000; got {args.memory_timesteps}")
    return args


def run(args) -> dict:
    """Times every (model, variant) of :func:`rows_to_run`, interleaved; returns the results."""
    import tensorflow as tf

    x, y = make_batch(args.batch, args.timesteps, args.features, args.classes, args.density, args.seed)
    x, y = tf.constant(x), tf.constant(y)  # as a tf.data pipeline delivers them: no conversion in the step
    steps, rows = zip(*(training_step(kind, variant, args, x, y) for kind, variant in rows_to_run(args)))
    matmul, matmul_flops = large_matmul()
    *medians, matmul_seconds = interleaved_medians([*steps, matmul], args.warmup, args.steps)
    peak = matmul_flops / matmul_seconds
    rows = list(rows)
    for row, seconds in zip(rows, medians):
        row["step_seconds"] = seconds
    plain_lstm = next((r for r in rows if r["model"] == "lstm" and r["variant"] == "fused"), None)
    for row in rows:
        row["ratio_to_lstm"] = row["step_seconds"] / plain_lstm["step_seconds"] if plain_lstm else None
        row["mfu"] = row["train_matmul_flops"] / row["step_seconds"] / peak
    results = {"workload": _workload(args), "attainable_flops_per_second": peak, "rows": rows}
    return results


def measure_memory(results: dict, args) -> None:
    """Adds the peak memory of a training step at each of ``args.memory_timesteps`` (first variant)."""
    results["memory_variant"] = args.variants[0]
    results["peak_memory_bytes"] = {
        kind: {str(t): peak_memory_probe(kind, args, t) for t in args.memory_timesteps} for kind in args.kinds
    }


def _workload(args) -> dict:
    names = ("timesteps", "batch", "features", "units", "classes", "density", "steps", "warmup", "seed")
    names += ("memory_timesteps",) if args.memory else ()
    return {name: getattr(args, name) for name in names}


def report(results: dict) -> str:
    """The timings as a Markdown table."""
    lines = [
        "workload: " + ", ".join(f"{k}={v}" for k, v in results["workload"].items()),
        f"attainable: {results['attainable_flops_per_second'] / 1e9:.1f} GFLOP/s (float32 2048x2048 matmul)",
        "",
        "| model | variant | median step (ms) | step / LSTM step | matmul GFLOP per step | MFU |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in results["rows"]:
        ratio = "-" if row["ratio_to_lstm"] is None else f"{row['ratio_to_lstm']:.2f}"
        variant = row["variant"] if row["model"] in SPIKING else {"fused": "plain"}.get(row["variant"], row["variant"])
        lines.append(
            f"| {row['model']} | {variant} | {row['step_seconds'] * 1e3:.1f} | "
            f"{ratio} | {row['train_matmul_flops'] / 1e9:.2f} | {row['mfu']:.0%} |"
        )
    return "\n".join(lines)


def report_memory(results: dict) -> str:
    """The peak memory as a Markdown table."""
    lines = [
        f"peak memory added by training ({results['memory_variant']}):",
        "",
        "| model | " + " | ".join(f"T={t} (MB)" for t in results["workload"]["memory_timesteps"]) + " | ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    for kind, peaks in results["peak_memory_bytes"].items():
        short, long = peaks.values()
        lines.append(f"| {kind} | {short / 2**20:.0f} | {long / 2**20:.0f} | {long / max(short, 1):.2f} |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.memory_probe:
        run_memory_probe(args)
        return {}
    results = run(args)
    print(report(results), flush=True)
    if args.memory:
        measure_memory(results, args)
        print("\n" + report_memory(results))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return results


if __name__ == "__main__":
    main()
