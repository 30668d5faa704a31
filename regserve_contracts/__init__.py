"""RegServe's contracts: what the trainer, the server, the clients and the benchmarks agree on.

The label map (``labels``), image files opened and decoded safely (``decoding``), the EMNIST
form an image is brought to (``emnist_form``), the models folder layout (``layout``), the keys
of metadata.json (``metadata``), the variant registry (``variants``), the SavedModel's serving
signature (``signature``), the chance rule (``chance``), test-set predictions
(``predictions``), repeats over seeds (``repeats``) and MNIST-C's corruption suite
(``corruptions``, on ``pixelops``). Nothing here imports TensorFlow, the trainer or the server,
so a client installs and imports it with numpy and Pillow alone.
"""
