"""The gateway for bench/console.py: channels kn, ex, tw (as bench/_fill.py writes), database argv[2],
api_token argv[3]; console and metrics on, no send worker (the filled queue must stay as it is)."""

import sys

import uvicorn
from smsgate.host import config_from_dict, create_app, installed_adapters, open_gateway

if __name__ == "__main__":
    port, database, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    channels = {name: {"adapter": "http", "country": "RW", "address": "+250788000000",
                       "send_url": "http://127.0.0.1:9/unused"} for name in ("kn", "ex", "tw")}
    config = config_from_dict({"gateway": {"port": port, "database": database, "api_token": token},
                               "channels": channels}, installed_adapters())
    app = create_app(open_gateway(config), own_gateway=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
