# RegServe's server image: the package installed, a non-root user, models/ as a read-only volume.
# It serves each version's ONNX twin (model.onnx) with ONNX Runtime and holds no TensorFlow;
# for versions without a twin, run `python -m trainer onnx` where the trainer is installed,
# or install '.[serve-tf]' instead.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    MALLOC_ARENA_MAX=2 \
    MODELS_DIR=/models

WORKDIR /app
COPY pyproject.toml README.md ./
COPY regserve_contracts ./regserve_contracts
COPY analysis ./analysis
COPY trainer ./trainer
COPY server ./server
COPY client ./client
RUN pip install '.[serve]' \
    && useradd --create-home --uid 10001 regserve \
    && mkdir -p /models && chown regserve /models

USER regserve
VOLUME ["/models"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# server.launcher spells the gunicorn command (the project's config, the app factory); workers
# follow WEB_CONCURRENCY (default one per core), settings the REGSERVE_* environment.
CMD ["python", "-m", "server", "--bind", "0.0.0.0:8000"]
