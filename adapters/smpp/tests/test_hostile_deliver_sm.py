"""Whatever an SMSC puts in a deliver_sm, the adapter never crashes and never acknowledges what it did not store:
random fields, codings, UDHs and TLVs go through the real handler and a real store."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from smsgate.host import ChannelInbound, Gateway, config_from_dict
from smsgate_smpp import SmppAdapter
from smsgate_smpp._pdu import ESME_ROK, PduError, decode, encode

udh = st.one_of(st.binary(max_size=12), st.builds(lambda ref, total, index: bytes([5, 0, 3, ref, total, index]),
                                                   st.integers(0, 255), st.integers(0, 4), st.integers(0, 5)))
fields = st.fixed_dictionaries({
    "source_addr_ton": st.integers(0, 6),
    "source_addr": st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
    "destination_addr": st.text("0123456789", max_size=15),
    "esm_class": st.sampled_from([0, 0x04, 0x08, 0x20, 0x40, 0x44, 0xFF]),
    "data_coding": st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 13, 14, 0xF0, 0xF4, 0x19]),
    "short_message": st.one_of(st.binary(max_size=140), st.builds(lambda h, b: h + b, udh, st.binary(max_size=60)),
                               st.sampled_from([b"id:abc stat:DELIVRD err:000", b"id: stat:", b"stat:WHATEVER"])),
}, optional={
    "receipted_message_id": st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=20),
    "message_state": st.integers(0, 9),
    "sar_msg_ref_num": st.integers(0, 65535),
    "sar_total_segments": st.integers(0, 3),
    "sar_segment_seqnum": st.integers(0, 4),
})


def test_random_deliver_sm_is_stored_or_refused_never_a_crash(tmp_path):
    config = config_from_dict({"gateway": {"database": str(tmp_path / "db.sqlite3"), "synchronous": "NORMAL"},
                               "channels": {"sm": {"adapter": "smpp", "host": "127.0.0.1", "system_id": "esme",
                                                   "password": "pw", "country": "RW", "address": "2020"}}},
                              {"smpp": SmppAdapter})
    loop = asyncio.new_event_loop()
    gateway = Gateway(config)
    adapter = gateway.adapters["sm"]
    adapter._inbound = ChannelInbound(gateway, adapter)  # what start() sets, without binding anywhere
    answers: list[int] = []

    @settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(fields=fields)
    def run(fields):
        try:
            pdu = decode(encode("deliver_sm", 1, **fields))
        except PduError:
            return  # not a PDU smpplib can write: nothing to deliver
        answers.append(loop.run_until_complete(adapter._on_deliver(pdu)))

    try:
        run()
        logs = loop.run_until_complete(gateway.store.list_logs(channel="sm", limit=100_000))
    finally:
        loop.run_until_complete(gateway.close())
        loop.close()
    assert set(answers) == {ESME_ROK}  # the store was up: everything was stored, so everything acknowledged
    assert len([entry for entry in logs if entry["kind"] == "deliver_sm"]) == len(answers)
