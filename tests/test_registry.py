"""register_neuron, and the one rule for which implementation serves a cell (keras_spiking_rnn.cells.neuron)."""

import keras
import numpy as np
import pytest

from keras_spiking_rnn import LeakyReadout, LIFCell, SpikingRNN, available_neurons, register_neuron
from keras_spiking_rnn.bptt import SequenceRunner
from keras_spiking_rnn.cells import SpikingCell, get_neuron
from keras_spiking_rnn.cells.neuron import implementation, missing_int8_form
from keras_spiking_rnn.export import StreamingModel, UnsupportedLayerError
from keras_spiking_rnn.quantization import quantization_aware, quantize_model
from tests import neuron_zoo  # noqa: F401  (registers the test-only neuron)
from tests.test_bptt import SoftResetLIFCell  # a LIF whose update resets to half the potential


def _model(cell):
    return keras.Sequential([keras.Input((10, 3)), SpikingRNN(neuron=cell, return_sequences=True), LeakyReadout(2)])


def test_a_subclass_with_new_equations_is_served_by_its_own_code_only():
    cell = SoftResetLIFCell(4)
    assert implementation(cell, "update") is not None
    assert implementation(cell, "adjoint") is None  # the fused BPTT tapes its update instead
    assert implementation(cell, "int8_step") is None
    assert implementation(cell, "threshold_trace") is None
    assert implementation(LIFCell(4), "adjoint") is not None
    cell.build((None, 3))
    assert SequenceRunner(cell).adjoint is None
    assert SequenceRunner(LIFCell(4)).adjoint is not None


def test_quantize_model_and_the_export_refuse_a_subclass_with_the_parents_int8_step():
    model = _model(SoftResetLIFCell(4))
    reason = missing_int8_form(model.layers[0].cell)
    assert "SoftResetLIFCell" in reason and "`update`" in reason and "int8_step" in reason
    with pytest.raises(
        ValueError, match=r"SoftResetLIFCell overrides `update`.*implement `SoftResetLIFCell.int8_step`"
    ):
        quantize_model(model)
    with pytest.raises(UnsupportedLayerError, match=r"SoftResetLIFCell overrides `update`"):
        StreamingModel(model, sequence_length=10)
    with pytest.raises(TypeError, match="SoftResetLIFCell"):
        quantization_aware(SoftResetLIFCell)


def test_a_neuron_without_an_int8_form_trains_but_is_refused_by_name():
    class Relay(SpikingCell):
        state_names = ("spikes",)

        def update(self, current, states, constants):
            return [self.surrogate(current - 0.5)]

    model = _model(Relay(4))
    assert model(np.ones((2, 10, 3), "float32")).shape == (2, 2)
    with pytest.raises(ValueError, match="cell Relay has no int8 form: implement `int8_step`"):
        quantize_model(model)
    with pytest.raises(UnsupportedLayerError, match="cell Relay has no int8 form"):
        StreamingModel(model, sequence_length=10)


def test_a_registered_neuron_is_a_name_in_spiking_rnn():
    assert "test_integrate_and_fire" in available_neurons(spiking=True)
    assert "leaky_integrator" in available_neurons(spiking=False)
    layer = SpikingRNN(5, neuron="test_integrate_and_fire", threshold=0.25)
    assert type(layer.cell) is get_neuron("test_integrate_and_fire") and layer.cell.threshold == 0.25
    with pytest.raises(ValueError, match=r"`neuron` must be one of \[.*'test_integrate_and_fire'.*register_neuron"):
        SpikingRNN(5, neuron="no_such_neuron")
    with pytest.raises(ValueError, match="Unknown neuron 'no_such_neuron'"):
        get_neuron("no_such_neuron")


def test_register_neuron_refuses_what_is_not_a_neuron_and_taken_names():
    with pytest.raises(TypeError, match="must be a Keras layer class implementing the neuron protocol"):
        register_neuron("plain")(keras.layers.Dense)
    with pytest.raises(ValueError, match="already taken by LIFCell"):
        register_neuron("lif")(SoftResetLIFCell)
    with pytest.raises(ValueError, match="non-empty string"):
        register_neuron("")


def test_loading_a_model_of_an_unregistered_neuron_names_it(tmp_path):
    @register_neuron("vanishing", package="tests_vanishing")
    class VanishingCell(LIFCell):
        pass

    model = _model(VanishingCell(4))
    model.save(tmp_path / "m.keras")
    assert keras.models.load_model(tmp_path / "m.keras").layers[0].cell.__class__ is VanishingCell
    from keras_spiking_rnn.cells import neuron

    del neuron._REGISTRY["vanishing"]  # as in a fresh process that did not import the neuron's module
    del keras.saving.get_custom_objects()["tests_vanishing>VanishingCell"]
    with pytest.raises(TypeError, match=r"cannot load the neuron 'VanishingCell' \(registered as 'tests_vanishing>Van"):
        keras.models.load_model(tmp_path / "m.keras")
