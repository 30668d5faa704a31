"""Trainer: builds, trains, evaluates and exports one CNN per regularizer variant.

The light modules here (``labels``, ``variants``, ``imaging``) are the project's contracts and
never import TensorFlow, so the server and the client can share them cheaply.
"""
