"""Message ids are random version-4 UUIDs in their canonical text form, never repeated."""

import uuid

from smsgate.host import new_id


def test_ids_are_canonical_random_v4_uuids():
    ids = [new_id() for _ in range(5000)]  # more than one pool of random bytes
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text
