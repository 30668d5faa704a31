"""One Ray Serve replica: the same Flask app and runtime as a gunicorn worker, behind asgiref.

Each replica builds its app with :func:`server.create_app` from the settings the driver hands it
(the same environment variables gunicorn's workers read), so every route, error, the OpenAPI
document, V2 and the page answer through one code path; its model registry polls the models
folder by itself, so hot reload works per replica. Every answer names the Ray node and process
that produced it, so a caller (and the two-node test) can see where a request went.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

#: Response headers naming where an answer came from.
NODE_HEADER = "X-RegServe-Node"
PID_HEADER = "X-RegServe-Pid"
READY_PATH = "/readyz"


class OriginHeaders:
    """WSGI middleware: add the Ray node id and the process id to every answer."""

    def __init__(self, app: Callable, node_id: str) -> None:
        self.app = app
        self.headers = [(NODE_HEADER, node_id), (PID_HEADER, str(os.getpid()))]

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        def start(status: str, headers: list, exc_info: Any = None):
            return start_response(status, [*headers, *self.headers], exc_info)

        return self.app(environ, start)


class AsgiLifespan:
    """ASGI wrapper: acknowledge Serve's lifespan events (the WSGI adapter refuses any scope but
    HTTP); the Flask app needs no start-up or shutdown step beyond its constructor."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


class RegServeReplica:
    """The Flask app in a Serve replica; Serve wraps this class with ``serve.ingress()``.

    ``environ`` holds the server's settings as environment variables (``MODELS_DIR`` an
    absolute path that every node can read). The constructor loads every model, as a gunicorn
    worker does after its fork; Serve sends no request before it returns.
    """

    def __init__(self, environ: Mapping[str, str]) -> None:
        import ray

        from server import create_app
        from server.settings import load_settings

        self.flask_app = create_app(load_settings(environ=dict(environ)))
        self.node_id = ray.get_runtime_context().get_node_id()

    def __serve_build_asgi_app__(self):
        from asgiref.wsgi import WsgiToAsgi

        return AsgiLifespan(WsgiToAsgi(OriginHeaders(self.flask_app, self.node_id)))

    def check_health(self) -> None:
        """Serve's periodic probe: the app's own /readyz must answer 200, else this replica is
        replaced (it lost every model, or never loaded one)."""
        with self.flask_app.test_client() as client:
            answer = client.get(READY_PATH)
            if answer.status_code != 200:
                detail = (answer.get_json(silent=True) or {}).get("detail", answer.status)
                raise RuntimeError(f"{READY_PATH} answered {answer.status_code}: {detail}")
