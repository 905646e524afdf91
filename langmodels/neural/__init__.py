"""Neural language models — RNN, LSTM, GRU (`rnn.py`) and a Transformer (`transformer.py`) —
trained by one loop (`training.py`) on batches from `batching.py`.

Importing this package does not import torch; the model modules do, when a model is made.
"""
