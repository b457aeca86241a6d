"""What smsgate serves over HTTP, composed in one place (`_app.create_app`).

    _requests   reading a request: bounded bodies, forms and multipart, the URL as the caller used it
    _api        /api/v1: send, list and show messages (bearer token)
    _metrics    /metrics: Prometheus counters, histograms and the backlog
    console     /ui: the web console (Jinja2 templates, signed-cookie sessions)
    _app        create_app: channel callbacks at /c/<channel>/<action>, bridges, health, the lifespan
    _server     serve: uvicorn with request deadlines
"""

from ._api import OPENAPI, SendRequest
from ._app import create_app, event_json
from ._requests import parse_request
from ._server import PortUnavailable, listen, serve

__all__ = ["OPENAPI", "PortUnavailable", "SendRequest", "create_app", "event_json", "listen", "parse_request",
           "serve"]
