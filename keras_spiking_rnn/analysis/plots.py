"""Figures of spiking activity: rasters, membrane traces, firing rates, time constants, any-time accuracy.

Matplotlib is an optional dependency (``pip install 'keras-spiking-rnn[plots]'``), imported only when a
function draws. Every function draws on the ``ax`` given, or on a new figure, and returns the
``matplotlib.axes.Axes``; none shows the figure.
[`save_figure`][keras_spiking_rnn.analysis.plots.save_figure] writes a PNG and closes the figure.

Examples:
    >>> states = record_states(model, x, "alif")
    >>> ax = plot_raster(states["spikes"], title="ALIF layer")
    >>> save_figure(ax, "figures/raster.png")
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Union

import numpy as np
import tensorflow as tf

from keras_spiking_rnn._keras import keras

if TYPE_CHECKING:  # matplotlib is optional: imported when a function draws
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "plot_accuracy_over_time",
    "plot_firing_rate_histogram",
    "plot_raster",
    "plot_time_constants",
    "plot_traces",
    "save_figure",
    "time_constants",
]

_TIME_CONSTANTS = ("tau_m", "tau_adp")


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "keras_spiking_rnn.analysis.plots needs matplotlib: pip install 'keras-spiking-rnn[plots]'"
        ) from error
    return plt


def _axes(ax):
    """``ax``, or the axes of a new figure."""
    if ax is not None:
        return ax
    _, ax = _pyplot().subplots(figsize=(6.4, 4.0))
    return ax


def _sample_of(function: str, spikes, sample: int, name: str = "spikes") -> np.ndarray:
    """The (time, units) array of one sample of (batch, time, units) or (time, units) ``spikes``."""
    spikes = np.asarray(spikes)
    if spikes.ndim == 2:
        return spikes
    if spikes.ndim != 3:
        raise ValueError(
            f"{function}: `{name}` must have shape (batch, time, units) or (time, units); got shape {spikes.shape}."
        )
    if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)) or not 0 <= sample < spikes.shape[0]:
        raise ValueError(f"{function}: `sample` must be an integer in [0, {spikes.shape[0]}), got {sample!r}.")
    return spikes[sample]


def _neuron_indices(function: str, neurons, units: int) -> np.ndarray:
    indices = np.atleast_1d(np.asarray(neurons))
    if (
        indices.ndim != 1
        or indices.size == 0
        or not np.issubdtype(indices.dtype, np.integer)
        or indices.min() < 0
        or indices.max() >= units
    ):
        raise ValueError(
            f"{function}: `neurons` must be a non-empty sequence of neuron indices in [0, {units}), got {neurons!r}."
        )
    return indices


def plot_raster(
    spikes: np.ndarray,
    ax: Axes | None = None,
    sample: int = 0,
    neurons: Sequence[int] | None = None,
    title: str | None = None,
) -> Axes:
    """Spike raster of one sample: a dot at (step, neuron) for every non-zero output.

    Multi-level outputs ([`GatedSpikingCell`][keras_spiking_rnn.cells.GatedSpikingCell]) are coloured by
    their value, with a colour bar; binary spikes are black.

    Args:
        spikes: outputs (batch, time, units) or (time, units), e.g. ``record_states(...)["output"]``.
        ax: the axes to draw on; a new figure when None.
        sample: which sequence of the batch (ignored for 2-D ``spikes``).
        neurons: the indices of the neurons to show, in the order of the rows (row ``i`` is
            ``neurons[i]``); all when None.
        title: the axes' title.

    Returns:
        The ``matplotlib.axes.Axes``; ``ax.collections[0]`` holds the dots, one per non-zero output.

    Raises:
        ValueError: ``spikes`` not 2-D or 3-D; ``sample`` or ``neurons`` out of range.

    Examples:
        >>> ax = plot_raster(states["spikes"], sample=3, neurons=range(20))
    """
    values = _sample_of("plot_raster", spikes, sample)
    units = values.shape[1]
    indices = np.arange(units) if neurons is None else _neuron_indices("plot_raster", neurons, units)
    values = values[:, indices]
    steps, rows = np.nonzero(values)
    levels = values[steps, rows]
    ax = _axes(ax)
    if np.unique(levels).size > 1:
        dots = ax.scatter(steps, rows, c=levels, s=6, marker="s", cmap="viridis")
        ax.figure.colorbar(dots, ax=ax, label="output level")
    else:
        ax.scatter(steps, rows, s=6, marker="|" if values.shape[0] > 200 else "o", color="black")
    ax.set_xlim(-0.5, values.shape[0] - 0.5)
    ax.set_ylim(-0.5, len(indices) - 0.5)
    ax.set_xlabel("timestep")
    ax.set_ylabel("neuron")
    if neurons is not None and len(indices) <= 20:
        ax.set_yticks(np.arange(len(indices)), [str(i) for i in indices])
    if title is not None:
        ax.set_title(title)
    return ax


def plot_traces(
    states: dict[str, np.ndarray],
    neurons: Sequence[int] = (0,),
    sample: int = 0,
    ax: Axes | None = None,
) -> Axes:
    """Membrane potential over time of a few neurons, with their threshold (dashed) and spike times.

    Per neuron, in this order: ``ax.lines`` gets the potential (solid) and, if ``states`` has
    ``"threshold"``, the threshold (dashed, the same colour); ``ax.collections`` gets a marker at the
    potential of every step where the neuron's output is non-zero (if ``states`` has ``"output"``).

    Args:
        states: the dict of [`record_states`][keras_spiking_rnn.analysis.recording.record_states]: at least
            ``"potential"`` (batch, time, units); ``"threshold"`` and ``"output"`` are drawn if present.
        neurons: the indices of the neurons to draw.
        sample: which sequence of the batch.
        ax: the axes to draw on; a new figure when None.

    Returns:
        The ``matplotlib.axes.Axes``.

    Raises:
        ValueError: no ``"potential"`` in ``states``, or arrays that are not (batch, time, units);
            ``sample`` or ``neurons`` out of range.

    Examples:
        >>> ax = plot_traces(record_states(model, x, "alif"), neurons=[0, 3])
    """
    if not isinstance(states, dict) or "potential" not in states:
        keys = sorted(states) if isinstance(states, dict) else type(states).__name__
        raise ValueError(
            f"plot_traces: `states` must be the dict of record_states, with a 'potential' entry; got {keys}."
        )
    potential = np.asarray(states["potential"])
    if potential.ndim != 3:
        raise ValueError(
            f"plot_traces: `states['potential']` must have shape (batch, time, units); got shape {potential.shape}."
        )
    potential = _sample_of("plot_traces", potential, sample)
    indices = _neuron_indices("plot_traces", neurons, potential.shape[1])
    extra = {}
    for key in ("threshold", "output"):
        if key in states:
            extra[key] = _sample_of("plot_traces", states[key], sample, name=f"states[{key!r}]")
            if extra[key].shape != potential.shape:
                raise ValueError(
                    f"plot_traces: `states[{key!r}]` must have the shape of states['potential'], "
                    f"{np.shape(states['potential'])}; got {np.shape(states[key])}."
                )
    threshold, output = extra.get("threshold"), extra.get("output")
    ax = _axes(ax)
    steps = np.arange(potential.shape[0])
    for neuron in indices:
        (line,) = ax.plot(steps, potential[:, neuron], label=f"neuron {neuron}")
        colour = line.get_color()
        if threshold is not None:
            ax.plot(steps, threshold[:, neuron], linestyle="--", color=colour, linewidth=1.0)
        if output is not None:
            fired = np.nonzero(output[:, neuron])[0]
            ax.scatter(fired, potential[fired, neuron], marker="v", color=colour, s=18, zorder=3)
    ax.set_xlabel("timestep")
    ax.set_ylabel("membrane potential")
    ax.legend(loc="upper right", fontsize="small")
    return ax


def _firing_rates(spikes: np.ndarray) -> np.ndarray:
    """Each neuron's rate: the fraction of (sample, step) pairs with a non-zero output; (units,) float64.

    Args:
        spikes: outputs (batch, time, units) or (time, units).

    Returns:
        (units,) float64 rates in [0, 1].

    Raises:
        ValueError: ``spikes`` not 2-D or 3-D.

    Examples:
        >>> _firing_rates(np.array([[1, 0], [0, 0]]))
        array([0.5, 0. ])
    """
    spikes = np.asarray(spikes)
    if spikes.ndim not in (2, 3):
        raise ValueError(
            "plot_firing_rate_histogram: `spikes` must have shape (batch, time, units) or (time, units); "
            f"got shape {spikes.shape}."
        )
    return (spikes != 0).reshape(-1, spikes.shape[-1]).mean(axis=0, dtype=np.float64)


def plot_firing_rate_histogram(spikes: np.ndarray, ax: Axes | None = None, bins: int = 30) -> Axes:
    """Histogram over neurons of the firing rate, with the mean rate marked.

    A neuron's rate is the fraction of its outputs, over the samples and steps, that are non-zero.

    Args:
        spikes: outputs (batch, time, units) or (time, units).
        ax: the axes to draw on; a new figure when None.
        bins: the number of bins (a positive integer).

    Returns:
        The ``matplotlib.axes.Axes``; the bar heights sum to the number of neurons.

    Raises:
        ValueError: ``spikes`` not 2-D or 3-D; ``bins`` not a positive integer.

    Examples:
        >>> ax = plot_firing_rate_histogram(record_states(model, x, "alif")["spikes"])
    """
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"plot_firing_rate_histogram: `bins` must be a positive integer, got {bins!r}.")
    rates = _firing_rates(spikes)
    ax = _axes(ax)
    ax.hist(rates, bins=int(bins), color="tab:blue", edgecolor="white")
    ax.axvline(rates.mean(), color="tab:red", linestyle="--", label=f"mean {rates.mean():.3f}")
    ax.set_xlabel("firing rate (non-zero outputs per step)")
    ax.set_ylabel("neurons")
    ax.legend(loc="upper right", fontsize="small")
    return ax


def _time_constant_vector(name: str, values) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(
            f"plot_time_constants: `{name}` must be a non-empty 1-D array of time constants (units,), "
            f"e.g. layer.cell.tau_m.numpy(); got shape {values.shape}."
        )
    return values


def plot_time_constants(before: np.ndarray, after: np.ndarray, ax: Axes | None = None, label: str = "tau_m") -> Axes:
    """Histograms of one layer's time constants before and after training, on shared bins.

    Args:
        before: (units,) the time constants before training (copy them, e.g. ``cell.tau_m.numpy()``,
            before ``fit``).
        after: (units,) the same time constants after training.
        ax: the axes to draw on; a new figure when None.
        label: the name of the time constant, for the axis label.

    Returns:
        The ``matplotlib.axes.Axes``; ``ax.containers`` holds the two histograms (before, after).

    Raises:
        ValueError: ``before`` or ``after`` not a non-empty 1-D array.

    Examples:
        >>> tau_before = model.get_layer("alif").cell.tau_m.numpy()
        >>> model.fit(x, y, epochs=5)
        >>> ax = plot_time_constants(tau_before, model.get_layer("alif").cell.tau_m.numpy())
    """
    before = _time_constant_vector("before", before)
    after = _time_constant_vector("after", after)
    both = np.concatenate([before, after])
    edges = np.histogram_bin_edges(both, bins=min(30, max(5, both.size // 4)))
    ax = _axes(ax)
    ax.hist(before, bins=edges, alpha=0.6, label="before training", color="tab:gray")
    ax.hist(after, bins=edges, alpha=0.6, label="after training", color="tab:orange")
    ax.set_xlabel(f"{label} (steps)")
    ax.set_ylabel("neurons")
    ax.legend(loc="upper right", fontsize="small")
    return ax


def time_constants(model: keras.Model) -> dict[str, dict[str, np.ndarray]]:
    """The time constants of every recurrent layer of ``model`` that has them, by layer name.

    Layers are searched in ``model.layers`` and in nested models; a layer's cell contributes its
    ``tau_m`` and ``tau_adp`` weights if it has them (LIF and ALIF layers, ``LeakyReadout``), so the gated
    cell and non-recurrent layers are skipped.

    Args:
        model: a built Keras model.

    Returns:
        ``{layer name: {"tau_m": (units,), "tau_adp": (units,)}}``: copies of the weights, arrays in
            their dtype (float32 by default); ``"tau_adp"`` only for ALIF cells.

    Examples:
        >>> before = time_constants(model)
        >>> model.fit(x, y, epochs=5)
        >>> after = time_constants(model)
        >>> ax = plot_time_constants(before["alif"]["tau_m"], after["alif"]["tau_m"])
    """
    gathered: dict[str, dict[str, np.ndarray]] = {}
    for layer in _all_layers(model):
        cell = getattr(layer, "cell", None)
        if not isinstance(layer, keras.layers.RNN) or cell is None:
            continue
        found = {
            name: np.array(tf.convert_to_tensor(getattr(cell, name)))
            for name in _TIME_CONSTANTS
            if getattr(cell, name, None) is not None
        }
        if found:
            gathered[layer.name] = found
    return gathered


def _all_layers(model) -> list:
    layers = []
    for layer in getattr(model, "layers", []):
        layers.append(layer)
        if isinstance(layer, keras.Model):
            layers.extend(_all_layers(layer))
    return layers


def plot_accuracy_over_time(
    steps: Sequence[int], accuracies: Sequence[float], ax: Axes | None = None, label: str | None = None
) -> Axes:
    """Accuracy against the number of timesteps seen, e.g. the result of ``accuracy_over_time``.

    Args:
        steps: (k,) the numbers of steps seen.
        accuracies: (k,) the accuracy after each, in [0, 1].
        ax: the axes to draw on; a new figure when None. Call again with the same ``ax`` to compare models.
        label: the legend entry of this curve.

    Returns:
        The ``matplotlib.axes.Axes``; the curve is the last of ``ax.lines``.

    Raises:
        ValueError: ``steps`` and ``accuracies`` not 1-D arrays of the same length.

    Examples:
        >>> ax = plot_accuracy_over_time(*accuracy_over_time(model, x, y), label="ALIF")
    """
    steps, accuracies = np.asarray(steps), np.asarray(accuracies, dtype=np.float64)
    if steps.ndim != 1 or accuracies.shape != steps.shape or steps.size == 0:
        raise ValueError(
            "plot_accuracy_over_time: `steps` and `accuracies` must be non-empty 1-D arrays of the same length; "
            f"got shapes {steps.shape} and {accuracies.shape}."
        )
    ax = _axes(ax)
    ax.plot(steps, accuracies, marker="o" if steps.size <= 30 else None, markersize=3, label=label)
    ax.set_xlabel("timesteps seen")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0.0, 1.02)
    if label is not None:
        ax.legend(loc="lower right", fontsize="small")
    return ax


def save_figure(fig_or_ax: Union[Figure, Axes], path: str | pathlib.Path) -> pathlib.Path:
    """Saves the figure of ``fig_or_ax`` as a PNG at 150 dpi, creating the parent folders, and closes it.

    Args:
        fig_or_ax: a ``matplotlib.figure.Figure`` or one of its ``Axes``.
        path: the file to write; its suffix must be ``.png`` (or absent: ``.png`` is added).

    Returns:
        The path written.

    Raises:
        ValueError: ``path`` with a suffix other than ``.png``.
        TypeError: ``fig_or_ax`` neither a Figure nor an Axes.

    Examples:
        >>> save_figure(plot_raster(states["spikes"]), "figures/raster.png")
        PosixPath('figures/raster.png')
    """
    plt = _pyplot()
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, FigureBase

    if not isinstance(fig_or_ax, (Axes, FigureBase)):
        raise TypeError(
            f"save_figure: `fig_or_ax` must be a matplotlib Figure or Axes, got {type(fig_or_ax).__name__}."
        )
    figure: Artist = fig_or_ax
    while not isinstance(figure, Figure):  # an Axes or a SubFigure: up to the root figure
        figure = figure.figure
    path = pathlib.Path(path)
    if path.suffix == "":
        path = path.with_suffix(".png")
    if path.suffix.lower() != ".png":
        raise ValueError(f"save_figure: `path` must name a .png file, got {str(path)!r}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=150, format="png", bbox_inches="tight")
    plt.close(figure)
    return path
