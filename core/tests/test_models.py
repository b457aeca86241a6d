"""MessageRecord.as_dict is dataclasses.asdict (with `from`), written out for speed: it must keep every field."""

import dataclasses

from smsgate.host import MessageRecord


def test_as_dict_has_every_field_in_order_and_shares_nothing_mutable():
    values = {f.name: f"v-{f.name}" for f in dataclasses.fields(MessageRecord)}
    values.update(external_ids=["e"], attachments=["a"], metadata={"k": [1, {"n": 2}]}, history=[{"status": "x"}],
                  quick_replies=["q"], segments=2, attempts=1, high_priority=True, route=["r1", "r2"])
    record = MessageRecord(**values)
    expected = dataclasses.asdict(record)
    expected["from"] = expected.pop("from_")
    got = record.as_dict()
    assert got == expected and list(got) == list(expected)  # a field added to the record must be added there
    got["metadata"]["k"][1]["n"] = 3
    got["history"][0]["status"] = "y"
    assert record.metadata == {"k": [1, {"n": 2}]} and record.history == [{"status": "x"}]
