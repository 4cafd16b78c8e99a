"""SMS gateways: Twilio, a generic HTTP gateway and a console gateway for demos, behind one
interface (:class:`dispatch.sms.gateway.SmsGateway`) chosen by ``SIAGA_SMS_GATEWAY``
(:func:`dispatch.sms.gateway.build_gateway`).

The contract (outcomes, dedup keys, reconciliation) is in :mod:`dispatch.sms.gateway`; webhook
authentication in :mod:`dispatch.sms.webhooks`; the wire formats in ``docs/sms-gateway.md``.

The package itself imports nothing: the pure status-link core (:mod:`dispatch.sms.taplink`)
loads without the gateways and their libraries (an import-linter contract in ``make lint``).
"""
