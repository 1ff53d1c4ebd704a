"""The Keras the package builds on: Keras 3, or tf-keras (Keras 2) under ``TF_USE_LEGACY_KERAS=1``.

TensorFlow reads ``TF_USE_LEGACY_KERAS`` to decide what ``tf.keras`` is. The
package follows the same switch, so that its layers subclass the Keras the
user's model is built with: Keras 3 by default, and tf-keras for codebases
that quantize with tensorflow-model-optimization (which handles tf-keras
models only). Set the variable before importing TensorFlow or this package.
"""

from __future__ import annotations

import os

LEGACY: bool = os.environ.get("TF_USE_LEGACY_KERAS", "0").strip().lower() in ("1", "true", "yes")

if LEGACY:
    try:
        import tf_keras as keras
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "TF_USE_LEGACY_KERAS=1 asks for tf-keras, which is not installed: `pip install tf-keras` "
            "(the version matching TensorFlow's), or unset TF_USE_LEGACY_KERAS to use Keras 3."
        ) from error
else:
    import keras

if LEGACY:

    class DropoutRNNCell:
        """tf-keras's RNN layer does not prepare Keras 3's dropout masks; the cells refuse dropout there."""

        dropout = 0.0
        recurrent_dropout = 0.0

else:
    # Keras 3's dropout mixin of its RNN cells: keras.layers.RNN draws one mask per sequence before the time loop
    # (``get_dropout_mask``, ``get_recurrent_dropout_mask``) and clears it after; not exported as public API.
    from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

__all__ = ["LEGACY", "DropoutRNNCell", "keras"]
