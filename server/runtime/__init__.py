"""The model runtime: loading versions, choosing which, fused inference and micro-batching.

Nothing here imports Flask or werkzeug: the HTTP rooms use the runtime, never the reverse.
ONNX Runtime (``ort_backend``) or TensorFlow (``tf_backend``) runs the models; each is imported
only when it serves.
"""
