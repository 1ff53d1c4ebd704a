"""What spiking buys, measured: firing rates, operation counts and energy estimates, state recordings and plots.

* :func:`firing_rates`, :class:`FiringRateMonitor`: activity per layer and neuron, on data or during ``fit``.
* :func:`count_operations`: MACs and ACs per timestep of a model on real inputs (Yin et al. 2021, Fig. 2a),
  with a theoretical energy estimate; :func:`lstm_operations`, :func:`gru_operations`,
  :func:`simple_rnn_operations` for conventional layers of given sizes; :func:`energy_pj`.
* :func:`record_states`, :func:`accuracy_over_time`: every state of a spiking layer over time, and
  any-time decisions.
* :mod:`keras_spiking_rnn.analysis.plots` (needs matplotlib, the ``plots`` extra): rasters, traces,
  rate histograms, time constants, accuracy over time.
"""

from keras_spiking_rnn.analysis.activity import FiringRateMonitor, LayerActivity, firing_rates
from keras_spiking_rnn.analysis.operations import (
    AC_ENERGY_PJ,
    MAC_ENERGY_PJ,
    Operations,
    energy_pj,
    gru_operations,
    lstm_operations,
    simple_rnn_operations,
)
from keras_spiking_rnn.analysis.recording import accuracy_over_time, record_states, spiking_layers
from keras_spiking_rnn.analysis.report import LayerOperations, OperationReport, count_operations

__all__ = [
    "AC_ENERGY_PJ",
    "MAC_ENERGY_PJ",
    "FiringRateMonitor",
    "LayerActivity",
    "LayerOperations",
    "OperationReport",
    "Operations",
    "accuracy_over_time",
    "count_operations",
    "energy_pj",
    "firing_rates",
    "gru_operations",
    "lstm_operations",
    "record_states",
    "simple_rnn_operations",
    "spiking_layers",
]
