"""Twilio's Messages API (2010-04-01) served in front of smsgate's channels, so Twilio's SDKs send unchanged.

    _wire         SIDs, RFC 2822 dates, statuses and error codes in Twilio's terms, the Message JSON, errors
    _accounts     the accounts served (`[twilio_api]`): basic auth, and the channels each one owns
    _front        TwilioFront: create, fetch, list, update (redact) and delete; `pick_channel`
    _callbacks    status callbacks and incoming-message webhooks through the outbox; TwiML replies sent back
    _signature    X-Twilio-Signature on what smsgate sends
    _twiml        reading TwiML `<Message>` replies safely
    _validity     ValidityPeriod: the before_send hook that drops a message that waited too long

The HTTP routes are `smsgate.web._twilio`'s; this package, like the bridges, speaks the platform's protocol.
"""

from ._accounts import Account, Accounts
from ._callbacks import INCOMING_TARGET, STATUS_TARGET, TwilioCallbacks, reply_id
from ._front import FrontStore, TwilioFront, not_found
from ._signature import SIGNATURE_HEADER, request_url, signature
from ._twiml import TwimlRejected, TwimlReply, replies
from ._validity import PLUGIN_NAME, ValidityPeriod
from ._wire import (
    API_VERSION,
    EXPIRED_REASON,
    TwilioError,
    callback_status,
    error_body,
    error_code,
    message_id_of,
    message_json,
    rfc2822,
    sid_of,
    twilio_status,
)

__all__ = [
    "API_VERSION",
    "EXPIRED_REASON",
    "INCOMING_TARGET",
    "PLUGIN_NAME",
    "SIGNATURE_HEADER",
    "STATUS_TARGET",
    "Account",
    "Accounts",
    "FrontStore",
    "TwilioCallbacks",
    "TwilioError",
    "TwilioFront",
    "TwimlRejected",
    "TwimlReply",
    "ValidityPeriod",
    "callback_status",
    "error_body",
    "error_code",
    "message_id_of",
    "message_json",
    "not_found",
    "replies",
    "reply_id",
    "request_url",
    "rfc2822",
    "sid_of",
    "signature",
    "twilio_status",
]
