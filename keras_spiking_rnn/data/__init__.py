"""Datasets that exist offline, as NumPy arrays shaped for sequence models, and tf.data pipelines.

* ``load_mnist1d`` / ``sliding_windows``: MNIST-1D, generated locally.
* ``load_digits_sequences`` / ``permute_steps``: scikit-learn's 8x8 digits pixel by pixel (64 steps),
  optionally with the permuted-sequential permutation, which ``permute_steps`` applies to any sequences.
* ``bin_spikes`` / ``load_spiking_audio`` / ``spiking_audio_dataset``: the Spiking Heidelberg Digits and
  Spiking Speech Commands HDF5 files (downloaded and gunzipped by the user) as binned spike counts
  (steps, 700); needs ``h5py``.
* ``log_mel_features`` / ``delta_features`` / ``read_wav`` / ``load_speech_commands_split`` /
  ``speech_commands_dataset``: Google Speech Commands (unpacked by the user) as (101, 120) log-Mel +
  delta frames.
* ``sequence_dataset``: padded, bucketed batches of sequences of different lengths.
* ``load_ucr``: the UCR/UEA time-series classification sets bundled with ``aeon`` (GunPoint, ArrowHead,
  ItalyPowerDemand, OSULeaf, PickupGestureWiimoteZ, ACSF1) as (n, timesteps, channels), z-normalized.
"""

from keras_spiking_rnn.data.digits import load_digits_sequences, permute_steps
from keras_spiking_rnn.data.mnist1d import load_mnist1d, sliding_windows
from keras_spiking_rnn.data.pipelines import PAD_VALUE, sequence_dataset
from keras_spiking_rnn.data.speech_commands import (
    delta_features,
    load_speech_commands_split,
    log_mel_features,
    read_wav,
    speech_commands_dataset,
)
from keras_spiking_rnn.data.spiking_audio import bin_spikes, load_spiking_audio, spiking_audio_dataset
from keras_spiking_rnn.data.ucr import load_ucr

__all__ = [
    "PAD_VALUE",
    "bin_spikes",
    "delta_features",
    "load_digits_sequences",
    "load_mnist1d",
    "load_speech_commands_split",
    "load_spiking_audio",
    "load_ucr",
    "log_mel_features",
    "permute_steps",
    "read_wav",
    "sequence_dataset",
    "sliding_windows",
    "speech_commands_dataset",
    "spiking_audio_dataset",
]
