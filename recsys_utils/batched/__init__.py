"""Train the report's per-user recommender for thousands of users at once, on CPU.

The report trains one small network *per user* (section 4.1: "each model is designed for an
individual user").  For all 6,040 users of MovieLens 1M, one Keras ``fit`` per user takes hours,
mostly in per-step framework overhead: a user's network has 13,745 weights (10,000 in the
embedding, of which only 2 rows are ever used) and a batch is
10 rows.  This package trains the same networks with a compiled (Numba) kernel that runs one
user's whole training loop -- forward pass, hand-written backward pass, Adam -- without leaving
machine code, and runs users side by side on all CPU cores.

The architecture (:class:`Network`) is that of both of the report's recommenders (Appendix A's
code)::

    (batch, 18) 0/1 flags -> Embedding(200, d) -> Dropout(p) -> (batch, 18, d)
      -> recurrent cell (u units; activation, recurrent_activation)
      -> Dropout(p) -> (batch, u) -> Dense(1, output activation) -> (batch, 1)

- :data:`REPORT_MODIFIED` (the default): the modified recommender of
  :func:`recsys_utils.models.sequence.build_modified_lstm_recommender`: d = 50, the report's
  cell with u = 18, activation "sigmoid", recurrent_activation "tanh", p = 0.5, Keras 2's hard
  sigmoid output;
- :data:`REPORT_LSTM`: the LSTM recommender of
  :func:`recsys_utils.models.sequence.build_lstm_recommender`: d = 50, Keras' ``LSTM`` with
  u = 100, activation and recurrent_activation "sigmoid", no dropout (p = 0), sigmoid output.

with ``cell`` one of :data:`CELLS`: ``"modified"`` (the report's cell: gates i, C~, o and
``C_t = i_t * C~_t``), ``"nfg"`` (``C_t = C_{t-1} + i_t * C~_t``), ``"lstm"`` (Keras' ``LSTM``)
or ``"gru"`` (Keras' ``GRU``, ``reset_after=True``).  The hard sigmoid is Keras 2's by default
(``clip(0.2 x + 0.5, 0, 1)``, as the book's Keras model), or Keras 3's (see
:data:`OUTPUT_ACTIVATIONS`), or a sigmoid.  Training (:class:`Training`) follows Keras' ``fit``:
binary cross-entropy (on the clipped output of a hard sigmoid, on the logit of a sigmoid, as
Keras does), Adam (lr 1e-3, betas 0.9/0.999, eps 1e-7), mini-batches of ``batch_size`` rows
drawn from a fresh permutation every epoch, the
last batch of an epoch smaller when the row count is not a multiple of ``batch_size`` (its loss
is the mean over its real rows), and Keras' initialisers (embedding ``uniform(-0.05, 0.05)``,
``glorot_uniform`` kernels, ``orthogonal`` recurrent kernels, zero biases, forget bias 1 for the
LSTM).

Independence of users (the key property)
----------------------------------------
Every user has their own weights, Adam moments and Adam step count, and their own random
stream: the initial weights come from a NumPy generator seeded with ``(seed, user_id, 0)`` and
the per-epoch permutations and dropout masks from a SplitMix64 stream seeded with
``(seed, user_id, 1)``.  Nothing is shared between users, so a user's trained network does not
depend on which other users are trained in the same call, nor on the number of threads (a test
checks this).  The random numbers differ from those Keras would draw (Keras' own
streams cannot be reproduced outside a Keras model), so results agree with Keras in
distribution; with ``dropout=0`` and ``shuffle=False`` and the same initial weights they agree
with a Keras ``fit`` to float32 round-off, which a test checks too.

One difference from Keras 3 remains, in the embedding's Adam state: Keras 3's ``Embedding``
hands Adam a sparse gradient (one slice per lookup) and its TensorFlow backend squares the
slices *before* summing the duplicates, so the second moment of an embedding row grows with
the sum of the squared per-lookup gradients.  This package uses plain Adam (the square of the
summed gradient), as Keras 2 -- which the report ran -- did.  The test compares against a Keras
model whose embedding gradient is dense.

What makes it fast
------------------
- the flags are 0/1, so only rows 0 and 1 of the embedding matter (the other 198 rows get no
  gradient and Adam never moves them): the kernel keeps 2 rows, ``(2, 50)``;
- the input dropout keeps a random subset of the 50 embedding units of each (row, step), so the
  input projection is ``b + sum_{k kept} s * E[x, k] * W[k]``: the kernel draws each mask as a
  64-bit word (with 0.5 dropout, the bits of one random number), takes it 4 bits at a time and
  adds 13 rows of per-batch tables holding the 16 subset sums of each group of 4 units, the
  input bias folded into the first group's rows (instead of a 50 x 54 product); backward, the
  gradients are binned the same way (code 0 included, so that one group's bins sum to the bias
  gradient) and spread back over the units;
- the input projections are written straight into the gate buffer, which the recurrent pass
  turns into gate activations in place (no copy, less memory to stream through the caches);
- backward, each row's gate gradients come from one fused loop per step, and the recurrent
  kernel's gradient is one pass over all (step, row) pairs after the loop over the steps
  (rather than one small product per step);
- weight rows are padded to whole SIMD vectors (54 -> 56) and the small products unrolled
  (several rows per pass over a vector, so that it is loaded and stored once per pass);
  the products with the recurrent kernel (``h_{t-1} U`` forward, ``dh`` backward) take two
  batch rows per pass, so that each kernel row is loaded once for both, and the recurrent
  kernel's gradient three of its rows per pass over the (step, row) pairs: fewer loads, and
  fuller vector loops (a lone 56-float loop leaves its last 24 floats to scalar code);
- ``tanh`` (and ``sigmoid(x) = 0.5 * tanh(x / 2) + 0.5``) is the rational approximation that
  Eigen (TensorFlow's CPU backend) uses, which vectorises (abs. error < 3e-7);
- each user's training loop runs in one call that releases the GIL; a thread pool runs users
  largest-first on all cores.

Layout of the package
---------------------
- ``layout``: cells, activations, the weight layout
  (:class:`ParamLayout`), Keras-like initial weights (:func:`init_weights`);
- ``config``: :class:`Network`, :class:`Training`, the report's two
  networks;
- ``kernel_types``: the typed records the kernels pass around;
- kernels (Numba): ``jit`` (compile settings, ``RECSYS_FASTMATH``,
  tanh, random bits), ``linalg`` (small unrolled products),
  ``weights`` (views of a flat weight vector),
  ``inputs`` (dropout masks, input projection),
  ``recurrent`` (the cells forward and backward),
  ``batch`` (one batch's loss and gradient),
  ``loop`` (one user's training loop, prediction);
- ``driver``: :func:`train_users`, :func:`predict_users`;
  ``result``: :class:`BatchedResult`.

Compiled with fastmath by default; ``RECSYS_FASTMATH=0`` (read at import) compiles strict IEEE
arithmetic (see ``recsys_utils.batched.jit``).
"""

from recsys_utils.batched.config import (
    REPORT_LSTM,
    REPORT_MODIFIED,
    REPORT_NETWORKS,
    REPORT_TRAINING,
    Network,
    Training,
)
from recsys_utils.batched.driver import loss_and_gradient, predict_users, train_users
from recsys_utils.batched.jit import FASTMATH, FASTMATH_ENV, warm_cache
from recsys_utils.batched.layout import (
    ACTIVATIONS,
    CELLS,
    OUTPUT_ACTIVATION_NAMES,
    OUTPUT_ACTIVATIONS,
    ParamLayout,
    init_weights,
)
from recsys_utils.batched.result import BatchedResult

__all__ = [
    "warm_cache",
    "ACTIVATIONS",
    "CELLS",
    "FASTMATH",
    "FASTMATH_ENV",
    "OUTPUT_ACTIVATIONS",
    "OUTPUT_ACTIVATION_NAMES",
    "REPORT_LSTM",
    "REPORT_MODIFIED",
    "REPORT_NETWORKS",
    "REPORT_TRAINING",
    "BatchedResult",
    "Network",
    "ParamLayout",
    "Training",
    "init_weights",
    "loss_and_gradient",
    "predict_users",
    "train_users",
]
