import pathlib
import sys

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from keras_spiking_rnn import LeakyReadout, SpikingRNN  # noqa: E402
from keras_spiking_rnn.analysis import plots  # noqa: E402
from keras_spiking_rnn.analysis.plots import (  # noqa: E402
    plot_accuracy_over_time,
    plot_firing_rate_histogram,
    plot_raster,
    plot_time_constants,
    plot_traces,
    save_figure,
    time_constants,
)
from keras_spiking_rnn.analysis.recording import accuracy_over_time, record_states  # noqa: E402
from tests import reference  # noqa: E402
from tests.conftest import weights_of  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def make_model(neuron="alif", dtype="float32", output_mode="last", go_backwards=False, dense=False, seed=0, **cell):
    """Input((None, 3)) [-> Dense(3)] -> SpikingRNN(5, name="snn") -> LeakyReadout(4), with weights that spike."""
    layers = [keras.Input((None, 3))]
    if dense:
        layers.append(keras.layers.Dense(3, name="pre"))
    layers += [
        SpikingRNN(5, neuron=neuron, return_sequences=True, go_backwards=go_backwards, name="snn", dtype=dtype, **cell),
        LeakyReadout(4, output_mode=output_mode, name="readout", dtype=dtype),
    ]
    model = keras.Sequential(layers)
    rng = np.random.default_rng(seed)
    spiking = model.get_layer("snn").cell
    spiking.kernel.assign(rng.normal(0, 1.5, spiking.kernel.shape))
    spiking.recurrent_kernel.assign(rng.normal(0, 0.5, spiking.recurrent_kernel.shape))
    spiking.bias.assign(rng.normal(0, 0.1, spiking.bias.shape))
    readout = model.get_layer("readout").cell
    readout.kernel.assign(rng.normal(0, 1.0, readout.kernel.shape))
    readout.bias.assign(rng.normal(0, 0.1, readout.bias.shape))
    return model


def inputs(batch=4, steps=25, seed=1):
    """float32 values (exact in float64 too, so float64 models see the same numbers)."""
    return np.random.default_rng(seed).normal(0, 1.0, (batch, steps, 3)).astype("float32")


@pytest.fixture(scope="module")
def alif_record():
    model = make_model("alif", dtype="float64", threshold=0.05, adaptation=0.5)
    x = inputs()
    return model, x, record_states(model, x, "snn")


# -- record_states ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "neuron, go_backwards, dense",
    [("alif", False, True), ("alif", True, False), ("lif", False, False), ("gated", False, True)],
)
def test_recorded_output_is_the_layers_own_output_sequence(neuron, go_backwards, dense):
    model = make_model(neuron, go_backwards=go_backwards, dense=dense)
    x = inputs()
    layer = model.get_layer("snn")
    states = record_states(model, x, layer)
    expected = keras.ops.convert_to_numpy(keras.Model(model.inputs[0], layer.output)(x))
    assert set(states) == {*layer.cell.state_names, "output", "threshold"}
    for value in states.values():
        assert value.shape == (4, 25, 5) and value.dtype == np.float32
    np.testing.assert_array_equal(states["output"], expected)
    assert 0.05 < np.mean(expected != 0) < 0.95  # both spiking and silent steps are compared
    if neuron != "gated":
        np.testing.assert_array_equal(states["spikes"], expected)


def test_alif_states_match_the_numpy_equations(alif_record):
    model, x, states = alif_record
    cell = model.get_layer("snn").cell
    w = weights_of(cell)
    ref = reference.run_alif(
        x.astype("float64"), w["kernel"], w["recurrent_kernel"], w["bias"], w["tau_m"], w["tau_adp"], 0.05, 0.5
    )
    np.testing.assert_array_equal(states["spikes"], ref["spikes"])
    np.testing.assert_allclose(states["potential"], ref["potential"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(states["adaptation"], ref["adaptation"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(states["threshold"], 0.05 + 0.5 * ref["adaptation"], rtol=1e-12)
    assert np.ptp(states["threshold"]) > 0.01  # the threshold really adapts
    assert 0.05 < states["spikes"].mean() < 0.6


def test_lif_threshold_is_the_constant_threshold():
    model = make_model("lif", threshold=0.07)
    states = record_states(model, inputs(), "snn")
    np.testing.assert_array_equal(states["threshold"], np.full((4, 25, 5), 0.07, "float32"))


def test_record_states_errors_name_the_argument():
    model = make_model("alif")
    x = inputs()
    with pytest.raises(ValueError, match=r"`layer`='nope'.*\['snn'\]"):
        record_states(model, x, "nope")
    with pytest.raises(ValueError, match=r"`layer` 'readout' \(LeakyReadout\) is not a spiking recurrent layer"):
        record_states(model, x, "readout")
    with pytest.raises(ValueError, match=r"`layer` 'other' is not a layer of model"):
        record_states(model, x, SpikingRNN(5, name="other"))
    with pytest.raises(TypeError, match="`layer` must be a layer name"):
        record_states(model, x, 1)
    with pytest.raises(ValueError, match=r"`x` must have shape \(batch, timesteps, features\); got shape \(25, 3\)"):
        record_states(model, x[0], "snn")
    source = keras.Input((None, 3))
    hidden = SpikingRNN(5, return_sequences=True, name="snn")(keras.layers.Masking()(source))
    masked = keras.Model(source, LeakyReadout(2)(hidden))
    with pytest.raises(ValueError, match="masked"):
        record_states(masked, x, "snn")


# -- accuracy_over_time ----------------------------------------------------------------------------------------


def numpy_decisions(model, x, t):
    """The readout's argmax after t steps, from the NumPy equations of the ALIF layer and the leaky readout."""
    cell = model.get_layer("snn").cell
    snn, readout = weights_of(cell), weights_of(model.get_layer("readout").cell)
    spikes = reference.run_alif(
        x[:, :t].astype("float64"),
        snn["kernel"],
        snn["recurrent_kernel"],
        snn["bias"],
        snn["tau_m"],
        snn["tau_adp"],
        cell.threshold,
        cell.adaptation,
    )["spikes"]
    logits = reference.run_leaky_integrator(spikes, readout["kernel"], readout["bias"], readout["tau_m"])
    return logits[:, -1].argmax(-1)


def test_accuracy_over_time_matches_numpy_decisions_at_the_first_and_last_step():
    model = make_model("alif", dtype="float64")
    x = inputs(batch=24, steps=6, seed=5)
    first, last = numpy_decisions(model, x, 1), numpy_decisions(model, x, 6)
    assert not np.array_equal(first, last)  # the decision changes with the steps seen
    y = last.copy()
    y[::3] = (y[::3] + 1) % 4  # a third of the labels wrong at the end: accuracy 2/3
    steps, accuracy = accuracy_over_time(model, x, y, steps=[1, 6])
    np.testing.assert_array_equal(steps, [1, 6])
    assert accuracy[1] == pytest.approx(2 / 3)
    assert accuracy[0] == pytest.approx(np.mean(first == y))
    # model.evaluate-style: argmax of the predictions on the whole sequences
    assert accuracy[1] == np.mean(model.predict(x, verbose=0).argmax(-1) == y)
    first_step_scores = keras.ops.convert_to_numpy(model(x[:, :1], training=False))
    assert accuracy[0] == np.mean(first_step_scores.argmax(-1) == y)


def test_accuracy_over_time_of_a_sequence_output_matches_truncated_runs():
    x = inputs(batch=16, steps=4, seed=6)
    y = np.random.default_rng(0).integers(0, 4, 16)
    last = make_model("alif", dtype="float64", output_mode="last", seed=3)
    sequence = make_model("alif", dtype="float64", output_mode="sequence")
    sequence.set_weights(last.get_weights())  # the time constants too
    expected = [np.mean(numpy_decisions(last, x, t) == y) for t in range(1, 5)]
    assert len(set(expected)) > 1
    steps, every = accuracy_over_time(sequence, x, y)  # one run, read at every step
    np.testing.assert_array_equal(steps, np.arange(1, 5))
    np.testing.assert_allclose(every, expected)
    steps, truncated = accuracy_over_time(last, x, y, steps=[2, 4], batch_size=8)  # x[:, :t] in 2 batches
    np.testing.assert_allclose(truncated, [expected[1], expected[3]])


def test_accuracy_over_time_errors_name_the_argument():
    model = make_model("alif")
    x = inputs(batch=4, steps=5)
    y = np.array([0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"`x` must have shape \(n, timesteps, features\)"):
        accuracy_over_time(model, x[0], y)
    with pytest.raises(ValueError, match=r"`y` must be integer class labels of shape \(n,\) = \(4,\)"):
        accuracy_over_time(model, x, np.eye(4))
    with pytest.raises(ValueError, match=r"`steps` must be a non-empty sequence of integers in 1..5"):
        accuracy_over_time(model, x, y, steps=[0, 3])
    with pytest.raises(ValueError, match="`steps`"):
        accuracy_over_time(model, x, y, steps=[6])
    with pytest.raises(ValueError, match="`batch_size` must be a positive integer"):
        accuracy_over_time(model, x, y, batch_size=0)


# -- plots -----------------------------------------------------------------------------------------------------


def test_raster_draws_one_dot_per_nonzero_output(alif_record):
    _, _, states = alif_record
    spikes = states["spikes"]
    ax = plot_raster(spikes, sample=2, title="ALIF")
    offsets = np.asarray(ax.collections[0].get_offsets())
    assert len(offsets) == np.count_nonzero(spikes[2]) > 0
    steps, neurons = np.nonzero(spikes[2])
    assert set(map(tuple, offsets.astype(int))) == set(zip(steps, neurons))
    assert ax.get_title() == "ALIF" and ax.get_xlabel() == "timestep"
    # a subset of neurons: row i is neurons[i]; a 2-D (time, units) array is one sample
    ax = plot_raster(spikes[2], neurons=[4, 1])
    offsets = np.asarray(ax.collections[0].get_offsets())
    expected = {(t, 0) for t in np.nonzero(spikes[2, :, 4])[0]} | {(t, 1) for t in np.nonzero(spikes[2, :, 1])[0]}
    assert set(map(tuple, offsets.astype(int))) == expected
    assert [label.get_text() for label in ax.get_yticklabels()] == ["4", "1"]


def test_raster_colours_multi_level_outputs_by_level():
    model = make_model("gated")
    output = record_states(model, inputs(), "snn")["output"]
    assert np.unique(output[0][output[0] != 0]).size > 1  # several levels
    fig, ax = plt.subplots()
    assert plot_raster(output, ax=ax) is ax
    dots = ax.collections[0]
    assert len(dots.get_offsets()) == np.count_nonzero(output[0])
    np.testing.assert_allclose(np.sort(dots.get_array()), np.sort(output[0][output[0] != 0]))


def test_raster_errors_name_the_argument(alif_record):
    spikes = alif_record[2]["spikes"]
    with pytest.raises(ValueError, match=r"`sample` must be an integer in \[0, 4\)"):
        plot_raster(spikes, sample=4)
    with pytest.raises(ValueError, match=r"`neurons` must be .* in \[0, 5\)"):
        plot_raster(spikes, neurons=[5])
    with pytest.raises(ValueError, match="`spikes` must have shape"):
        plot_raster(spikes[0, 0])


def test_traces_plot_the_recorded_potential_threshold_and_spikes(alif_record):
    _, _, states = alif_record
    ax = plot_traces(states, neurons=[1, 3], sample=1)
    potential, threshold, lines = states["potential"][1], states["threshold"][1], ax.lines
    np.testing.assert_array_equal(lines[0].get_ydata(), potential[:, 1])
    np.testing.assert_array_equal(lines[1].get_ydata(), threshold[:, 1])
    assert lines[1].get_linestyle() == "--" and lines[1].get_color() == lines[0].get_color()
    np.testing.assert_array_equal(lines[2].get_ydata(), potential[:, 3])
    for marks, neuron in zip(ax.collections, [1, 3]):
        fired = np.nonzero(states["spikes"][1, :, neuron])[0]
        np.testing.assert_array_equal(np.asarray(marks.get_offsets())[:, 0], fired)
    with pytest.raises(ValueError, match="`states` must be the dict of record_states, with a 'potential' entry"):
        plot_traces({"spikes": states["spikes"]})
    with pytest.raises(ValueError, match="`neurons`"):
        plot_traces(states, neurons=[7])


def test_firing_rate_histogram_counts_every_neuron_once(alif_record):
    spikes = alif_record[2]["spikes"]
    ax = plot_firing_rate_histogram(spikes, bins=7)
    assert len(ax.patches) == 7
    assert sum(patch.get_height() for patch in ax.patches) == spikes.shape[-1]
    mean_line = ax.lines[0]
    assert mean_line.get_xdata()[0] == pytest.approx(np.mean(spikes != 0))
    with pytest.raises(ValueError, match="`bins` must be a positive integer"):
        plot_firing_rate_histogram(spikes, bins=0)


def test_time_constants_are_the_layers_weights_and_plot_before_after():
    source = keras.Input((None, 3))
    hidden = SpikingRNN(6, neuron="alif", return_sequences=True, name="alif")(source)
    hidden = SpikingRNN(5, neuron="lif", return_sequences=True, name="lif")(hidden)
    hidden = SpikingRNN(4, neuron="gated", return_sequences=True, name="gated")(hidden)
    model = keras.Model(source, LeakyReadout(3, name="readout")(hidden))
    found = time_constants(model)
    assert {name: sorted(taus) for name, taus in found.items()} == {
        "alif": ["tau_adp", "tau_m"],
        "lif": ["tau_m"],
        "readout": ["tau_m"],
    }
    for name in ("alif", "lif", "readout"):
        np.testing.assert_array_equal(found[name]["tau_m"], model.get_layer(name).cell.tau_m.numpy())
    np.testing.assert_array_equal(found["alif"]["tau_adp"], model.get_layer("alif").cell.tau_adp.numpy())
    before = found["alif"]["tau_m"]
    model.get_layer("alif").cell.tau_m.assign(before + 5.0)  # "training"
    after = time_constants(model)["alif"]["tau_m"]
    np.testing.assert_allclose(after - before, 5.0, rtol=1e-6)  # copies, not views of the weights
    ax = plot_time_constants(before, after, label="tau_m")
    assert len(ax.containers) == 2
    for bars in ax.containers:
        assert sum(patch.get_height() for patch in bars) == 6
    with pytest.raises(ValueError, match="`before` must be a non-empty 1-D array"):
        plot_time_constants(np.ones((2, 3)), after)


def test_accuracy_plot_draws_the_given_curve():
    steps, accuracy = np.array([1, 5, 10]), np.array([0.2, 0.5, 0.9])
    ax = plot_accuracy_over_time(steps, accuracy, label="ALIF")
    ax = plot_accuracy_over_time(steps, accuracy[::-1], ax=ax, label="LIF")
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), steps)
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), accuracy[::-1])
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["ALIF", "LIF"]
    with pytest.raises(ValueError, match="`steps` and `accuracies` must be non-empty 1-D arrays of the same length"):
        plot_accuracy_over_time(steps, accuracy[:2])


def test_save_figure_writes_a_png_and_closes_the_figure(tmp_path: pathlib.Path):
    ax = plot_accuracy_over_time([1, 2], [0.5, 0.7])
    figure = ax.figure
    path = save_figure(ax, tmp_path / "nested" / "dir" / "accuracy.png")
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert not plt.fignum_exists(figure.number)
    fig, _ = plt.subplots()
    assert save_figure(fig, tmp_path / "figure").read_bytes()[:8] == PNG_MAGIC  # .png added
    assert not plt.fignum_exists(fig.number)
    with pytest.raises(ValueError, match=r"`path` must name a \.png file"):
        save_figure(plt.subplots()[0], tmp_path / "figure.pdf")
    with pytest.raises(TypeError, match="`fig_or_ax` must be a matplotlib Figure or Axes"):
        save_figure("figure", tmp_path / "x.png")


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # import matplotlib.pyplot raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'keras-spiking-rnn\[plots\]'"):
        plots.plot_accuracy_over_time([1], [1.0])
