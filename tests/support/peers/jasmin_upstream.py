"""The upstream SMSC behind Jasmin in tests: Jasmin's own simulator, served on a port, with a control port.

Run with Jasmin's venv Python (it needs Twisted and smpp.pdu from Jasmin's dependencies):

    python jasmin_upstream.py SIMULATOR_DIR SMPP_PORT CONTROL_PORT

`SIMULATOR_DIR` holds `smsc_simulator.py` from Jasmin's sdist (`tests/protocols/smpp/`). The SMSC is its
`ManualDeliveryReceiptHappySMSC`: it answers every bind and submit_sm, and here also sends a delivery receipt
`DLR_DELAY` seconds after each submit_sm (stat `DELIVRD` unless told otherwise). Each submit_sm is printed as
one `SUBMIT {json}` line on stdout.

The control port takes one command per line and answers `ok` or `error: ...`:
    MO <hex>          push this raw deliver_sm PDU (its sequence number is replaced) to the bound client
    STAT <stat>       the `stat:` of receipts for later submits (DELIVRD, UNDELIV, REJECTD, EXPIRED...)
    DLR_DELAY <secs>  seconds between a submit_sm_resp and its receipt
    DLR off|on        stop or resume sending receipts
"""

from __future__ import annotations

import binascii
import io
import json
import sys

SIMULATOR_DIR, SMPP_PORT, CONTROL_PORT = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sys.path.insert(0, SIMULATOR_DIR)

from smpp.pdu.pdu_encoding import PDUEncoder  # noqa: E402
from smsc_simulator import ManualDeliveryReceiptHappySMSC  # noqa: E402
from twisted.internet import reactor  # noqa: E402
from twisted.internet.protocol import Factory  # noqa: E402
from twisted.protocols.basic import LineReceiver  # noqa: E402

settings = {"stat": "DELIVRD", "delay": 0.3, "dlr": True}
clients: list[Upstream] = []


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


class Upstream(ManualDeliveryReceiptHappySMSC):
    """The simulator, answering each submit_sm and then sending its receipt."""

    def connectionMade(self) -> None:
        clients.append(self)

    def connectionLost(self, reason: object = None) -> None:
        if self in clients:
            clients.remove(self)

    def handleSubmit(self, reqPDU: object) -> None:
        super().handleSubmit(reqPDU)
        params = {k: _text(v) for k, v in reqPDU.params.items()}  # type: ignore[attr-defined]
        params["message_id"] = _text(self.lastSubmitSmRestPDU.params["message_id"])
        print("SUBMIT " + json.dumps(params), flush=True)
        if settings["dlr"]:
            message_id = self.lastSubmitSmRestPDU.params["message_id"]
            stat = settings["stat"]
            submit = reqPDU

            def receipt() -> None:
                # trigger_DLR reads the last submit: point it at this one, even if others came in between
                self.lastSubmitSmPDU = submit
                self.trigger_DLR(_id=message_id, stat=stat)

            reactor.callLater(settings["delay"], receipt)


class Control(LineReceiver):
    """One command per line (see the module docstring)."""

    delimiter = b"\n"

    def lineReceived(self, line: bytes) -> None:
        try:
            command, _, arg = line.decode().strip().partition(" ")
            if command == "MO":
                if not clients:
                    raise RuntimeError("no client is bound")
                pdu = PDUEncoder().decode(io.BytesIO(binascii.unhexlify(arg)))
                pdu.seqNum = None
                clients[-1].sendPDU(pdu)
            elif command == "STAT":
                settings["stat"] = arg
            elif command == "DLR_DELAY":
                settings["delay"] = float(arg)
            elif command == "DLR":
                settings["dlr"] = arg == "on"
            else:
                raise ValueError(f"unknown command {command!r}")
        except Exception as exc:  # the test reads the reason
            self.sendLine(f"error: {type(exc).__name__}: {exc}".encode())
        else:
            self.sendLine(b"ok")


smsc_factory = Factory()
smsc_factory.protocol = Upstream
control_factory = Factory()
control_factory.protocol = Control
reactor.listenTCP(SMPP_PORT, smsc_factory, interface="127.0.0.1")
reactor.listenTCP(CONTROL_PORT, control_factory, interface="127.0.0.1")
print(f"upstream SMSC on {SMPP_PORT}, control on {CONTROL_PORT}", flush=True)
reactor.run()
