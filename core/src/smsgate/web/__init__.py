"""What smsgate serves over HTTP, composed in one place (`_app.create_app`).

    _requests   reading a request: bounded bodies, forms and multipart, the URL as the caller used it
    _api        /api/v1: send, list and show messages, the channels' status (bearer token)
    _twilio     /2010-04-01: Twilio's Messages API (basic auth), the HTTP side of smsgate.platform.twilio
    _metrics    /metrics: Prometheus counters, histograms and the backlog
    console     /ui: the web console (Jinja2 templates, signed-cookie sessions)
    _app        create_app: channel callbacks at /c/<channel>/<action>, bridges, health, the lifespan
    _server     serve: uvicorn with request deadlines
    _logs       configure_logging: smsgate's log level, and its text or JSON-lines format
    _split      serve_split: the intake here, the sending in a forked second process (`serve --split`)
    _batch      /api/v1/messages/batch: many messages in one request
"""

from ._api import OPENAPI, SendRequest
from ._app import create_app, event_json
from ._logs import LOG_FORMATS, LOG_LEVELS, JsonFormatter, configure_logging
from ._requests import parse_request
from ._server import PortUnavailable, listen, serve
from ._split import serve_split

__all__ = ["LOG_FORMATS", "LOG_LEVELS", "OPENAPI", "JsonFormatter", "PortUnavailable", "SendRequest",
           "configure_logging", "create_app", "event_json", "listen", "parse_request", "serve", "serve_split"]
