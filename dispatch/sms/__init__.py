"""SMS gateways: Twilio, a generic HTTP gateway and a console gateway for demos, behind one
interface (:class:`SmsGateway`) chosen by ``SIAGA_SMS_GATEWAY`` (:func:`build_gateway`).

The contract (outcomes, dedup keys, reconciliation) is in :mod:`dispatch.sms.gateway`; webhook
authentication in :mod:`dispatch.sms.webhooks`; the wire formats in ``docs/sms-gateway.md``.
"""

from dispatch.sms.gateway import (
    DedupEntry,
    DedupKeyReused,
    DedupStore,
    DeliveryStatus,
    GatewayConfigError,
    InboundSms,
    MemoryDedupStore,
    MessageStatus,
    OutboundSms,
    SendOutcome,
    SendResult,
    SmsError,
    SmsGateway,
    WebhookRequest,
    build_gateway,
)
from dispatch.sms.webhooks import RejectReason, WebhookRejected

__all__ = [
    "DedupEntry",
    "DedupKeyReused",
    "DedupStore",
    "DeliveryStatus",
    "GatewayConfigError",
    "InboundSms",
    "MemoryDedupStore",
    "MessageStatus",
    "OutboundSms",
    "RejectReason",
    "SendOutcome",
    "SendResult",
    "SmsError",
    "SmsGateway",
    "WebhookRejected",
    "WebhookRequest",
    "build_gateway",
]
