"""Trainer: builds, trains, evaluates and exports one CNN per regularizer variant.

What it shares with the server and the clients (labels, the EMNIST image form, the models
layout, the variant registry, the serving signature) lives in :mod:`regserve_contracts`.
"""
