"""`smsgate serve` for the ingest benchmark: one http channel, SQLite at argv[2], same uvicorn settings as bare.py.

What `smsgate serve` does, minus reading a config file: background worker and dispatcher, gc.freeze().
argv[3] is the SQLite synchronous mode; argv[4] `nometrics` serves without metrics (the comparison's baseline).
"""

import gc
import sys

import uvicorn
from smsgate.host import config_from_dict, create_app, installed_adapters, open_gateway

if __name__ == "__main__":
    port, database = int(sys.argv[1]), sys.argv[2]
    synchronous = sys.argv[3] if len(sys.argv) > 3 else "FULL"
    config = config_from_dict({"gateway": {"port": port, "database": database, "synchronous": synchronous},
                               "channels": {"b": {"adapter": "http", "country": "RW",
                                                  "send_url": "http://127.0.0.1:9/unused"}}}, installed_adapters())
    metrics = not (len(sys.argv) > 4 and sys.argv[4] == "nometrics")
    app = create_app(open_gateway(config), own_gateway=True, background=True, metrics=metrics)
    gc.freeze()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
