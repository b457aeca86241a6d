"""Real peer servers on 127.0.0.1 for tests, benches and cassette recording: one module per peer.

Plain Python (standard library only; no pytest at import). Every peer is a
context manager that starts real processes as children of this process, waits
until they are really ready, and stops them by PID (SIGTERM, wait, SIGKILL,
wait). A peer that cannot start raises :class:`PeerStartError` (a
``RuntimeError``) carrying the tail of its logs: never skip.

    with Httpbin() as hb:            hb.url              -> http://127.0.0.1:N
    with Prism() as prism:           prism.url           (Twilio contract mock)
    with Prism(media_variant_spec(tmp)) as prism: ...    (repeated MediaUrl ok)
    with Kannel(get_url=...) as k:   k.sendsms_url, k.received_mts(), k.send_mo()
    with Postgres() as pg:           pg.url("db") -> postgresql://smsgate@127.0.0.1:N/db
    with Jasmin() as j:              j.smpp_port, j.system_id/j.password, j.send_mo(pdu), j.submits()

    process          free ports, `Child` (one process, stopped by PID) and `Peer` (the base every peer extends)
    httpbin, prism, kannel, postgres, jasmin    one peer each
    jasmin_upstream  the SMSC behind Jasmin, run as a script with Jasmin's own Python

Install the peers first: ``.ci/install-peers``. See tests/PEERS.md.
"""

from .httpbin import Httpbin
from .jasmin import JASMIN_DIR, Jasmin
from .kannel import KANNEL_GET_URL_QUERY, Kannel
from .postgres import PG_BIN, Postgres
from .prism import PRISM_BIN, TWILIO_SPEC, Prism, media_variant_spec
from .process import REPO_ROOT, PeerStartError, free_port, free_ports, listening_ports

__all__ = [
    "REPO_ROOT",
    "TWILIO_SPEC",
    "PRISM_BIN",
    "PeerStartError",
    "free_port",
    "free_ports",
    "listening_ports",
    "Httpbin",
    "Prism",
    "media_variant_spec",
    "Kannel",
    "KANNEL_GET_URL_QUERY",
    "Postgres",
    "PG_BIN",
    "Jasmin",
    "JASMIN_DIR",
]
