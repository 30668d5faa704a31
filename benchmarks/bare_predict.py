"""A layout the serving benchmark measures, not a way to run RegServe: /predict outside Flask.

What Flask's request cycle costs a prediction, as a server row (``regserve_bare``) beside
RegServe's own: the same app (:func:`server.create_app`), gunicorn config, intake, batcher,
answers, metrics and JSON encoder; the same route body (:func:`server.routes.predict.answer`)
and the same request count and latency the app's ``after_request`` hook keeps
(:meth:`server.metrics.Metrics.observe_request`). Left out for
``POST /predict`` only: Flask's request context, URL routing, its before- and after-request
hooks and its Response object. Every other path, and every /predict that does not answer 200
(a bad body, an unknown variant, a long URL), goes to the Flask app with the body already read,
so its errors are the server's own.

Started as ``gunicorn -c server/gunicorn.conf.py 'benchmarks.bare_predict:create_app()'``.
"""

from __future__ import annotations

import io
import time
from typing import Any

from werkzeug import Request

from server import create_app as create_flask_app
from server.errors import MAX_URI_BYTES
from server.routes.predict import answer
from server.state import EXTENSION

ENDPOINT = "/predict"


def create_app() -> BarePredict:
    """RegServe's app with /predict answered by :class:`BarePredict` (settings from the
    environment, as ``server.create_app``)."""
    return BarePredict(create_flask_app())


class BarePredict:
    """A WSGI app: plain ``POST /predict`` answered here, everything else by Flask."""

    def __init__(self, flask_app) -> None:
        self.flask_app = flask_app
        self.state = flask_app.extensions[EXTENSION]
        self.encode = flask_app.json.dumpb

        class _Request(Request):
            max_content_length = self.state.settings.max_content_length

        self.request_class = _Request

    def __call__(self, environ: dict[str, Any], start_response):
        if (environ.get("PATH_INFO") != ENDPOINT or environ.get("REQUEST_METHOD") != "POST"
                or len(environ.get("RAW_URI") or "") > MAX_URI_BYTES):
            return self.flask_app(environ, start_response)
        started = time.perf_counter()
        body = environ["wsgi.input"].read()
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            with self.request_class(environ) as request:  # closes an upload's spooled file
                data = self.encode(answer(request, self.state)) + b"\n"
        except Exception:  # noqa: BLE001 - Flask answers it again, with its own error handlers
            environ["wsgi.input"] = io.BytesIO(body)
            return self.flask_app(environ, start_response)
        self.state.metrics.observe_request(ENDPOINT, "POST", 200, time.perf_counter() - started)
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(data)))])
        return [data]
