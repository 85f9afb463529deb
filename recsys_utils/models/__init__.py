"""The recommenders' models.

- ``recsys_utils.models.sequence``: the report's LSTM and modified-LSTM recommenders (Keras),
  and ablations of them, over a user's 18 binary movie attributes;
- ``recsys_utils.models.rbm``: the report's RBM recommender (NumPy);
- ``recsys_utils.models.autoencoder``: the report's autoencoder recommender (TensorFlow);
- ``recsys_utils.models.autoencoder_data``: its user split and held-out ratings (NumPy),
  re-exported by ``recsys_utils.models.autoencoder``.

Nothing is imported here, so that importing one submodule (``recsys_utils.models.rbm``) does not
import TensorFlow.
"""
