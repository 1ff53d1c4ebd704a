"""A neuron defined outside the package, through the public API only, for the conformance suite.

Importing this module registers it, and with it every stage's tests (``tests/test_neurons.py``) cover it.
It implements the float equations and the int8 form but no closed-form adjoint, so the fused BPTT runs
its taped fallback.
"""

from keras_spiking_rnn import register_neuron
from keras_spiking_rnn.cells import SpikingCell
from keras_spiking_rnn.int8 import synaptic_current


@register_neuron("test_integrate_and_fire", package="tests")
class IntegrateAndFireCell(SpikingCell):
    """Non-leaky integrate-and-fire with a subtractive reset (a test-only neuron).

    u_t = u_{t-1} + I_t - threshold * s_{t-1}
    s_t = H(u_t - threshold)
    """

    state_names = ("potential", "spikes")
    int8_state_sites = ("potential", None)
    neuron_update_operations = (1, 1)  # threshold * s (a MUL), u + I (an ADD)

    def __init__(self, units, threshold=0.5, **kwargs):
        super().__init__(units, **kwargs)
        self.threshold = float(threshold)

    def update(self, current, states, constants):
        potential, spikes = states
        potential = potential + current - self.threshold * spikes
        return [potential, self.surrogate(potential - self.threshold)]

    def int8_parameters(self, numerics):
        return {"synapse_scale": numerics.ones(self.units), "threshold": self.threshold}

    def int8_sites(self):
        return ("input_current", "recurrent_current", "current", "potential_input", "reset", "potential", "margin")

    def int8_step(self, x, states, parameters, ops):
        potential, spikes = states
        quantize = ops.quantize
        threshold = ops.constant(parameters["threshold"])
        current = synaptic_current(x, spikes, ops.synapse(), quantize)
        potential = quantize("potential_input", potential + current)
        potential = quantize("potential", potential - quantize("reset", threshold * spikes, ("mul", threshold, spikes)))
        return [potential, ops.spike(quantize("margin", potential - threshold))]

    def threshold_trace(self, states):
        return 0 * states["output"] + self.threshold

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


def run_integrate_and_fire(x, W, R, b, threshold):
    """The NumPy reference of ``IntegrateAndFireCell``."""
    import numpy as np

    u = np.zeros((x.shape[0], W.shape[1]))
    s = np.zeros_like(u)
    out = {"potential": [], "spikes": []}
    for t in range(x.shape[1]):
        u = u + x[:, t] @ W + b + (s @ R if R is not None else 0.0) - threshold * s
        s = (u - threshold > 0).astype(float)
        out["potential"].append(u)
        out["spikes"].append(s)
    return {k: np.stack(v, 1) for k, v in out.items()}
