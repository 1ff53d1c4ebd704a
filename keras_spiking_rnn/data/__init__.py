"""Datasets that exist offline, as NumPy arrays shaped for sequence models."""

from keras_spiking_rnn.data.mnist1d import load_mnist1d, sliding_windows

__all__ = ["load_mnist1d", "sliding_windows"]
