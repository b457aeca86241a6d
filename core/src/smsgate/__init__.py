"""smsgate: connect messaging platforms to SMS aggregators through adapter plugins."""

from ._adapter import *  # noqa: F403
from ._adapter import __all__ as _adapter_all
from ._api import *  # noqa: F403
from ._api import __all__ as _api_all
from ._app import *  # noqa: F403
from ._app import __all__ as _app_all
from ._bridges import *  # noqa: F403
from ._bridges import __all__ as _bridges_all
from ._channellog import *  # noqa: F403
from ._channellog import __all__ as _channellog_all
from ._config import *  # noqa: F403
from ._config import __all__ as _config_all
from ._errors import *  # noqa: F403
from ._errors import __all__ as _errors_all
from ._gateway import *  # noqa: F403
from ._gateway import __all__ as _gateway_all
from ._http import *  # noqa: F403
from ._http import __all__ as _http_all
from ._inbound import *  # noqa: F403
from ._inbound import __all__ as _inbound_all
from ._models import *  # noqa: F403
from ._models import __all__ as _models_all
from ._outbox import *  # noqa: F403
from ._outbox import __all__ as _outbox_all
from ._phones import *  # noqa: F403
from ._phones import __all__ as _phones_all
from ._store import *  # noqa: F403
from ._store import __all__ as _store_all
from ._text import *  # noqa: F403
from ._text import __all__ as _text_all
from ._transport import *  # noqa: F403
from ._transport import __all__ as _transport_all
from ._worker import *  # noqa: F403
from ._worker import __all__ as _worker_all
from .hookspecs import hookimpl as hookimpl

__version__ = "0.1.0"

__all__ = sorted(
    {"hookimpl", "__version__"}
    | set(_adapter_all) | set(_api_all) | set(_app_all) | set(_bridges_all) | set(_channellog_all)
    | set(_config_all) | set(_errors_all) | set(_gateway_all) | set(_http_all) | set(_inbound_all) | set(_models_all)
    | set(_outbox_all) | set(_phones_all) | set(_store_all) | set(_text_all) | set(_transport_all) | set(_worker_all)
)
