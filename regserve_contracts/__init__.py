"""RegServe's contracts: what the trainer, the server, the clients and the benchmarks agree on.

<<<<<<< HEAD
The label map (``labels``), the EMNIST form an image is brought to (``imaging``), the models
folder layout (``layout``), the variant registry (``variants``) and the SavedModel's serving
signature (``signature``), and MNIST-C's corruption suite (``corruptions``, on ``pixelops``).
Nothing here imports TensorFlow, the trainer or the server, so a
=======
The label map (``labels``), image files opened and decoded safely (``decoding``), the EMNIST
form an image is brought to (``emnist_form``), the models folder layout (``layout``), the keys
of metadata.json (``metadata``), the variant registry (``variants``) and the SavedModel's serving
signature (``signature``). Nothing here imports TensorFlow, the trainer or the server, so a
>>>>>>> house
client installs and imports it with numpy and Pillow alone.
"""
