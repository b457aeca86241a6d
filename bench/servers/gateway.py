"""`smsgate serve` for the ingest and growth benchmarks: the database at argv[2] (a SQLite path or a postgresql://
URL), SQLite's fsync policy argv[3].

What `smsgate serve` does, minus reading a config file: the same app with its background worker, dispatcher and
metrics, gc.freeze(), and `smsgate.host.serve` (uvicorn with smsgate's request deadlines). The config: one http
channel `b` (as bench/ingest.py always measured). argv[4] `nometrics` serves without metrics (their cost's
baseline); argv[4] `growth` adds a kannel channel `kn` (its delivery reports) and an API token
(`bench-token-0123456789`), and argv[5] then sets `message_retention_days`.
"""

import gc
import sys

from smsgate.host import config_from_dict, create_app, installed_adapters, open_gateway, serve

if __name__ == "__main__":
    port, database = int(sys.argv[1]), sys.argv[2]
    synchronous = sys.argv[3] if len(sys.argv) > 3 else "FULL"
    profile = sys.argv[4] if len(sys.argv) > 4 else ""
    gateway = {"port": port, "database": database, "synchronous": synchronous}
    channels = {"b": {"adapter": "http", "country": "RW", "send_url": "http://127.0.0.1:9/unused"}}
    if profile == "growth":
        gateway["api_token"] = "bench-token-0123456789"
        channels["kn"] = {"adapter": "kannel", "country": "RW", "send_url": "http://127.0.0.1:9/cgi-bin/sendsms",
                          "username": "bench", "password": "bench-password"}
        if len(sys.argv) > 5:
            gateway["message_retention_days"] = float(sys.argv[5])
    config = config_from_dict({"gateway": gateway, "channels": channels}, installed_adapters())
    app = create_app(open_gateway(config), own_gateway=True, background=True, metrics=profile != "nometrics")
    gc.freeze()
    serve(app, config.gateway, host="127.0.0.1", port=port, log_level="warning")
