"""Datasets that exist offline, as NumPy arrays shaped for sequence models, and tf.data pipelines."""

from keras_spiking_rnn.data.mnist1d import load_mnist1d, sliding_windows
from keras_spiking_rnn.data.pipelines import PAD_VALUE, sequence_dataset

__all__ = ["PAD_VALUE", "load_mnist1d", "sequence_dataset", "sliding_windows"]
