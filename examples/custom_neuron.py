"""A neuron model of your own, in one file: a LIF neuron with a synaptic current, end to end.

    python examples/custom_neuron.py                      # train, QAT, export, verify in TFLM
    python examples/custom_neuron.py --firmware --tflm ../shared/third_party/tflite-micro

The neuron below is written outside the package, with the public API only. Registering it gives it every
stage of the library: ``SpikingRNN(neuron="synaptic_lif")``, the fused BPTT (its taped fallback: there is no
closed-form adjoint here), ``.keras`` files, quantization-aware training, the int8 TFLite Micro export
verified in the TFLM interpreter, operation counts, recordings, and firmware that runs bit-exact with the
interpreter. docs/adding-a-neuron.md walks through it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import keras
import numpy as np

from keras_spiking_rnn import LeakyReadout, SpikingRNN, register_neuron
from keras_spiking_rnn.cells import LeakyCell, add_time_constant
from keras_spiking_rnn.int8 import synaptic_current


@register_neuron("synaptic_lif", package="examples")
class SynapticLIFCell(LeakyCell):
    """LIF neuron driven by a synaptic current that decays with its own time constant.

    With ``alpha = exp(-dt / tau_m)``, ``beta = exp(-dt / tau_syn)`` and
    ``I_t = x_t @ kernel + s_{t-1} @ recurrent_kernel + bias``:

        i_t = beta * i_{t-1} + (1 - beta) * I_t                   # synaptic current
        u_t = alpha * u_{t-1} + (1 - alpha) * i_t - threshold * s_{t-1}
        s_t = H(u_t - threshold)

    States: ``synaptic`` i, ``potential`` u, ``spikes`` s, all 0 at rest.

    Args:
        units: number of neurons.
        tau_syn_initializer: initializer of the synaptic time constant (default ``N(5, 1)`` steps).
        **kwargs: the arguments of ``LeakyCell`` (``threshold``, ``tau_m_initializer``, ...).
    """

    state_names = ("synaptic", "potential", "spikes")
    neuron_update_operations = (5, 0)  # beta * i, (1 - beta) * I, alpha * u, (1 - alpha) * i, threshold * s

    def __init__(self, units, tau_syn_initializer=None, **kwargs):
        super().__init__(units, **kwargs)
        self.tau_syn_initializer = keras.initializers.get(
            tau_syn_initializer or keras.initializers.RandomNormal(5.0, 1.0)
        )

    def build(self, input_shape):
        super().build(input_shape)  # kernel, recurrent_kernel, bias, tau_m
        self.tau_syn = add_time_constant(
            self, "tau_syn", self.units, self.tau_syn_initializer, self.min_tau, self.train_time_constants
        )

    # -- the float equations: what training runs -------------------------------------------------------
    def step_constants(self):
        return (keras.ops.exp(-self.dt / self.tau_m), keras.ops.exp(-self.dt / self.tau_syn))

    def update(self, current, states, constants):
        synaptic, potential, spikes = states
        alpha, beta = constants
        synaptic = beta * synaptic + (1.0 - beta) * current
        potential = alpha * potential + (1.0 - alpha) * synaptic - self.threshold * spikes
        return [synaptic, potential, self.surrogate(potential - self.threshold)]

    # -- the int8 form: what quantization-aware training and the microcontroller run --------------------
    # The int8 model keeps the same states; (1 - beta) is folded into the synaptic weights, so the step is
    # two FULLY_CONNECTED ops and an ADD for the current, then MULs and ADDs, one SUB for the reset and the
    # spike as a comparison of the margin with 0.
    int8_state_sites = ("synaptic", "potential", None)  # the grid each state is stored on (None: spikes)

    def int8_parameters(self, numerics):
        alpha = numerics.decay(self.dt, self.tau_m)
        beta = numerics.decay(self.dt, self.tau_syn)
        return {
            "synapse_scale": 1.0 - beta,
            "alpha": alpha,
            "beta": beta,
            "leak": 1.0 - alpha,
            "threshold": self.threshold,
        }

    def int8_sites(self):
        return (
            "input_current",
            "recurrent_current",
            "current",
            "synaptic_decay",
            "synaptic",
            "potential_decay",
            "potential_drive",
            "potential_input",
            "reset",
            "potential",
            "margin",
        )

    def int8_step(self, x, states, parameters, ops):
        synaptic, potential, spikes = states
        quantize = ops.quantize
        alpha, beta, leak, threshold = (ops.constant(parameters[k]) for k in ("alpha", "beta", "leak", "threshold"))
        current = synaptic_current(x, spikes, ops.synapse(), quantize)  # (1 - beta) I_t
        decayed = quantize("synaptic_decay", beta * synaptic, ("mul", beta, synaptic))
        synaptic = quantize("synaptic", decayed + current)
        kept = quantize("potential_decay", alpha * potential, ("mul", alpha, potential))
        drive = quantize("potential_drive", leak * synaptic, ("mul", leak, synaptic))
        potential = quantize("potential_input", kept + drive)
        potential = quantize("potential", potential - quantize("reset", threshold * spikes, ("mul", threshold, spikes)))
        return [synaptic, potential, ops.spike(quantize("margin", potential - threshold))]

    # -- what the analyses read --------------------------------------------------------------------------
    def threshold_trace(self, states):
        return np.full(states["output"].shape, self.threshold, states["output"].dtype)

    def get_config(self):
        config = {"tau_syn_initializer": keras.initializers.serialize(self.tau_syn_initializer)}
        return {**super().get_config(), **config}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--qat-epochs", type=int, default=1)
    parser.add_argument("--train", type=int, default=4000, help="training sequences")
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--out", type=Path, default=Path("runs/synaptic_lif"))
    parser.add_argument("--firmware", action="store_true", help="also build the firmware for the host, bit-exact")
    parser.add_argument("--tflm", type=Path, help="a TFLM source tree (for --firmware); default TFLM_ROOT")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from keras_spiking_rnn.data import load_mnist1d, sliding_windows
    from keras_spiking_rnn.export import export_tflite_micro
    from keras_spiking_rnn.quantization import quantize_model

    keras.utils.set_random_seed(args.seed)
    (x, y), (x_test, y_test) = load_mnist1d()
    x, y, x_test = sliding_windows(x, 8)[: args.train], y[: args.train], sliding_windows(x_test, 8)
    model = keras.Sequential(
        [
            keras.Input(x.shape[1:]),
            SpikingRNN(
                args.units,
                neuron="synaptic_lif",
                return_sequences=True,
                name="synaptic_lif",
                tau_m_initializer=keras.initializers.RandomNormal(5.0, 1.0),
            ),
            LeakyReadout(10, output_mode="mean", name="readout"),
        ]
    )
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.Adam(1e-2), loss, metrics=["accuracy"])
    model.fit(x, y, batch_size=64, epochs=args.epochs, verbose=2)
    float_accuracy = float(model.evaluate(x_test, y_test, verbose=0)[1])

    qat = quantize_model(model, calibration_data=x[:256])  # the int8 model's arithmetic, in training
    qat.compile(keras.optimizers.Adam(1e-3), loss, metrics=["accuracy"])
    qat.fit(x, y, batch_size=64, epochs=args.qat_epochs, verbose=2)
    result = export_tflite_micro(qat, x[:256], args.out, validation_data=(x_test, y_test))
    summary = {
        "float_accuracy": float_accuracy,
        "int8_accuracy": result.verification.int8_accuracy,
        "agreement": result.verification.agreement,
        "flash_bytes": len((args.out / "model.tflite").read_bytes()),
    }
    if args.firmware:
        from keras_spiking_rnn.export.firmware import build_and_run

        firmware = build_and_run(args.out, target="host", tflm_root=args.tflm)
        summary["firmware_mismatched"] = firmware.mismatched
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
