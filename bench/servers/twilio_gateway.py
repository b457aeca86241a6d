"""`smsgate serve` for bench/twilio_front.py: the database at argv[2], one http channel `b` sending to the stub
aggregator at argv[3], the /api/v1 token and a `[twilio_api]` account, so both doors send through one gateway.

What `smsgate serve` does, minus reading a config file: the same app, metrics, gc.freeze() and
`smsgate.host.serve`. argv[4] `accept` runs it without the background worker and dispatcher (only the request's
own work is measured then: the messages stay queued); otherwise it sends them as serve does.
"""

import gc
import sys

from smsgate.host import config_from_dict, create_app, installed_adapters, open_gateway, serve

API_TOKEN = "bench-token-0123456789"
ACCOUNT_SID = "AC" + "b0" * 16
AUTH_TOKEN = "bench-twilio-auth-token-0123"

if __name__ == "__main__":
    port, database, stub = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    background = (sys.argv[4] if len(sys.argv) > 4 else "serve") != "accept"
    config = config_from_dict({
        "gateway": {"port": port, "database": database, "api_token": API_TOKEN},
        "channels": {"b": {"adapter": "http", "country": "RW", "address": "+250788000000", "send_url": stub,
                           "content_type": "json", "max_in_flight": 16}},
        "twilio_api": {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},
    }, installed_adapters())
    app = create_app(open_gateway(config), own_gateway=True, background=background)
    gc.freeze()
    serve(app, config.gateway, host="127.0.0.1", port=port, log_level="warning")
