"""Draw every registered surrogate gradient next to the spike function it stands in for.

    python examples/plot_surrogates.py                                  # writes docs/figures/surrogates.png
    python examples/plot_surrogates.py --range 1.0 --output build/surrogates.png

A spiking neuron emits ``H(v)``, the Heaviside step of ``v = u - threshold``
(threshold at 0 here). Its derivative is zero almost everywhere, so training
uses a surrogate ``f'(v)`` in the backward pass (``keras_spiking_rnn.surrogates``).
For each surrogate in ``surrogates.available()``, with its default
parameters, this script evaluates the spike function on ``v`` in
``[-range, range]`` and takes ``d spike / d v`` with ``tf.GradientTape``
through the surrogate's ``__call__``: the curves are what backpropagation
actually receives, ``gain * derivative(v)``, not re-typed formulas. One
panel per surrogate shows that derivative over the step ``H(v)`` (faint);
the last panel overlays all of them. Prints each surrogate's peak and its
area over the range (the area of the exact step's derivative would be 1),
and where the PNG was saved. Needs matplotlib for the figure
(``pip install 'keras-spiking-rnn[plots]'``).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_spiking_rnn import surrogates

POINTS = 801  # v grid: step 2 * range / 800, so v = 0 is on the grid


def potentials(half_range: float, points: int = POINTS) -> np.ndarray:
    """The grid of ``v = u - threshold`` the script evaluates: ``points`` values evenly spaced in ``[-r, r]``.

    Args:
        half_range: ``r``, the largest ``|v|``.
        points: number of grid points (odd, so that ``v = 0`` is one of them).

    Returns:
        A float64 array of shape ``(points,)``.
    """
    return np.linspace(-half_range, half_range, points)


def spike_and_gradient(surrogate: surrogates.Surrogate, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The forward spikes and ``d spike / d v`` of ``surrogate`` at ``v``, by TensorFlow autodiff.

    Args:
        surrogate: a :class:`keras_spiking_rnn.surrogates.Surrogate`.
        v: potentials relative to the threshold.

    Returns:
        ``(spikes, gradient)``: float64 arrays of ``v``'s shape; ``spikes`` is the step ``H(v)`` and
        ``gradient`` the surrogate gradient backpropagation uses (``gain * derivative(v)``).
    """
    v = tf.constant(v, dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(v)
        spikes = surrogate(v)
    gradient = tape.gradient(spikes, v)  # upstream gradient of ones: d spike_i / d v_i
    return spikes.numpy(), gradient.numpy()


def describe(surrogate: surrogates.Surrogate) -> str:
    """The surrogate's parameters from ``get_config()``, e.g. ``"sigma=0.5, gain=1"``."""
    return ", ".join(f"{key}={value:g}" for key, value in surrogate.get_config().items())


def plot(v: np.ndarray, step: np.ndarray, gradients: dict[str, np.ndarray], titles: dict[str, str], columns: int = 4):
    """One panel per surrogate (gradient over the faint step) and a last panel with every gradient.

    Args:
        v: the potentials.
        step: the forward spikes ``H(v)``, the same for every surrogate.
        gradients: ``{name: d spike / d v}``.
        titles: ``{name: parameters}``, shown under each name.
        columns: panels per row.

    Returns:
        The ``matplotlib.figure.Figure``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    rows = math.ceil((len(gradients) + 1) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 2.9 * rows), sharex=True, sharey=True)
    axes = np.atleast_1d(axes).ravel()
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, gradient) in enumerate(gradients.items()):
        ax = axes[i]
        ax.plot(v, step, color="0.6", lw=1.2, alpha=0.6)
        ax.plot(v, gradient, color=colors[i % len(colors)], lw=2.0)
        ax.set_title(f"{name}\n{titles[name]}", fontsize=9)
        axes[-1].plot(v, gradient, color=colors[i % len(colors)], lw=1.5, label=name)
    overlay = axes[-1]
    overlay.plot(v, step, color="0.6", lw=1.2, alpha=0.6)
    overlay.set_title("all surrogates\n(step H(v) in grey)", fontsize=9)
    overlay.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    for ax in axes[len(gradients) : -1]:
        ax.set_visible(False)
    for ax in axes:
        ax.axhline(0.0, color="0.85", lw=0.8, zorder=0)
        ax.axvline(0.0, color="0.85", lw=0.8, zorder=0)
        ax.grid(alpha=0.25)
    for ax in axes[(rows - 1) * columns :]:
        ax.set_xlabel("v = u - threshold")
    for ax in axes[::columns]:
        ax.set_ylabel("value")
    handles = [
        Line2D([], [], color="0.6", lw=1.2, alpha=0.6, label="spike H(v) (forward)"),
        Line2D([], [], color="0.15", lw=2.0, label="d spike / d v by autodiff (backward; one color per surrogate)"),
    ]
    figure.legend(handles=handles, loc="lower center", ncol=2, fontsize=9, frameon=False)
    figure.suptitle("Spike function H(v) forward, surrogate gradient backward (tf.GradientTape, default parameters)")
    figure.tight_layout(rect=(0.0, 0.05, 1.0, 1.0))
    return figure


def main(argv: list[str] | None = None) -> dict[str, np.ndarray]:
    """Computes the surrogate gradients, prints a summary and saves the figure.

    Args:
        argv: command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        ``{name: d spike / d v}`` for every registered surrogate, on :func:`potentials` ``(--range)``.
    """
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path("docs/figures/surrogates.png"), help="the PNG to write")
    parser.add_argument("--range", type=float, default=2.0, dest="half_range", help="plot v in [-RANGE, RANGE]")
    args = parser.parse_args(argv)
    if not (math.isfinite(args.half_range) and args.half_range > 0):
        parser.error(f"--range must be a positive number, got {args.half_range}")

    v = potentials(args.half_range)
    dv = v[1] - v[0]
    gradients, titles, step = {}, {}, None
    for name in surrogates.available():
        surrogate = surrogates.get(name)
        step, gradients[name] = spike_and_gradient(surrogate, v)
        titles[name] = describe(surrogate)
        area = float(np.sum(gradients[name]) * dv)
        print(f"{name:>16}: peak {gradients[name].max():.3f}, area over the range {area:.3f}  ({titles[name]})")

    if importlib.util.find_spec("matplotlib") is None:
        print("no figure: matplotlib is missing (pip install 'keras-spiking-rnn[plots]')")
        return gradients
    from keras_spiking_rnn.analysis.plots import save_figure

    path = save_figure(plot(v, step, gradients, titles), args.output)
    print(f"saved {path}")
    return gradients


if __name__ == "__main__":
    main()
