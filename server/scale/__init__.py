"""RegServe beyond one machine: the same Flask app as Ray Serve replicas (`python -m server --ray`).

Nothing here is imported by the gunicorn server; Ray comes from the ``scale`` extra.
"""
