"""Train the report's per-user recommender for thousands of users at once, in TensorFlow (GPU).

The same networks and training as the Numba trainer :func:`recsys_utils.batched.train_users`
(:class:`~recsys_utils.batched.Network`, :class:`~recsys_utils.batched.Training`,
``recsys_utils.batched.REPORT_MODIFIED``, ``recsys_utils.batched.REPORT_LSTM``;
the cells ``modified``, ``nfg``, ``lstm``, ``gru``; Keras 2's hard-sigmoid or a sigmoid output;
Keras' binary cross-entropy; Adam; batches of ``batch_size`` rows, the last one smaller), with
every user's weights, Adam moments and step count their own, but written for an accelerator:
the users are one more tensor axis.

- Every weight is ``(U, *shape)`` (``U`` users, the names and shapes of
  :class:`~recsys_utils.batched.ParamLayout`) and every product a batched one over users
  (``einsum``), so one TensorFlow step trains one batch of every user.
- Users have different numbers of rows: they are padded to the largest user's number of
  batches; a padded row weighs nothing in its batch's loss, and a user's padded batches do not
  step Adam at all (weights, moments and step count stay, as if the batch did not exist).
- One epoch (row order, dropout masks, every batch's forward pass, autodiff gradient and Adam
  update) is one ``tf.function(jit_compile=True)`` (XLA), the recurrence over the 18 steps
  unrolled; the Python loop only runs the epochs (and the groups).
- Random numbers are counter-based (``recsys_utils.batched_tf.streams``): a hash of the
  user's key and of (epoch, batch, row, step, unit), so a user's result does not depend on
  which users are trained alongside.  They are not the Numba trainer's SplitMix64 streams: the
  two trainers agree in distribution; with ``dropout=0``, ``shuffle=False`` and the same
  initial weights they agree to float32 round-off (``tests/test_batched_tf.py``).

The result is a :class:`recsys_utils.batched.BatchedResult`: its ``predict_proba`` (the Numba
predictor), ``to_keras`` and everything that reads it work unchanged.

Devices: it is written for a GPU (``RECSYS_DEVICE=gpu``, see :mod:`recsys_utils.device`), where
one step trains a batch of every user; GPU figures are not measured yet
(``benchmarks/gpu_check.sh`` is the prepared check).  It runs and is tested on a CPU, where the
Numba trainer, which skips the padding and exploits the 0/1 inputs and the dropout's sparsity,
is much the faster (``benchmarks/results/batched_backends.json``: 200 users, 10 epochs, about
17 times).  ``groups=`` trains the users in groups by size, each padded only to its own largest
user.

Layout: ``streams`` (counter-based random numbers), ``network`` (forward pass and loss over
the user axis), ``step`` (Adam, the compiled epoch), ``driver`` (:func:`train_users`).
"""

from recsys_utils.batched_tf.driver import TFOptions, pad_users, train_users
from recsys_utils.batched_tf.network import NetSpec

__all__ = ["NetSpec", "TFOptions", "pad_users", "train_users"]
