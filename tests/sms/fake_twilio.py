"""A local stand-in for Twilio's Messages API and its webhooks (a double of Twilio, not of us).

It speaks the subset of ``https://api.twilio.com/2010-04-01`` a messaging client uses:

- ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (form: ``To``, ``From`` and/or
  ``MessagingServiceSid``, ``Body``, ``StatusCallback``) → 201 with the Message resource;
- ``GET  /2010-04-01/Accounts/{AccountSid}/Messages.json`` with ``To``, ``From``, ``DateSent``,
  ``DateSent<``, ``DateSent>``, ``PageSize``, ``Page`` → a page, newest first;
- ``GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json``.

Requests need HTTP basic auth with the account SID and auth token (401, error 20003,
otherwise). Errors have Twilio's JSON shape ``{"code", "message", "more_info", "status"}``.
Every request is recorded, authorised or not. A message exists from the moment the request is
processed, whatever happens to the answer afterwards (see :class:`tests.sms.servers.Fault`).

Like Twilio it calls webhooks: :meth:`FakeTwilio.deliver_status` posts a status callback,
:meth:`FakeTwilio.deliver_inbound` an incoming message, form-encoded and signed in
``X-Twilio-Signature`` with :class:`twilio.request_validator.RequestValidator` over the URL it
calls. :meth:`FakeTwilio.route` stands for a reverse proxy: Twilio calls (and signs) the public
URL, the request reaches us on a loopback address.
"""

from __future__ import annotations

import base64
import math
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from tests.sms.servers import FaultScript, Servers

API = "/2010-04-01"
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def rfc2822(moment: datetime | None) -> str | None:
    return format_datetime(moment) if moment is not None else None


def num_segments(body: str) -> int:
    """How Twilio counts parts: GSM-7 160/153 septets, else UCS-2 70/67 code units."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in body):
        septets = sum(2 if c in GSM7_EXTENDED else 1 for c in body)
        return 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


def twilio_error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message,
                         "more_info": f"https://www.twilio.com/docs/errors/{code}",
                         "status": status}, status_code=status)


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]
    username: str | None
    authorized: bool


@dataclass
class FakeMessage:
    sid: str
    account_sid: str
    to: str
    from_: str | None
    body: str
    direction: str
    status: str
    date_created: datetime
    messaging_service_sid: str | None = None
    status_callback: str | None = None
    date_sent: datetime | None = None
    date_updated: datetime | None = None
    error_code: int | None = None

    def resource(self) -> dict[str, object]:
        uri = f"{API}/Accounts/{self.account_sid}/Messages/{self.sid}"
        return {
            "account_sid": self.account_sid, "api_version": "2010-04-01", "body": self.body,
            "date_created": rfc2822(self.date_created),
            "date_sent": rfc2822(self.date_sent),
            "date_updated": rfc2822(self.date_updated or self.date_created),
            "direction": self.direction, "error_code": self.error_code,
            "error_message": None, "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid, "num_media": "0",
            "num_segments": str(num_segments(self.body)), "price": None,
            "price_unit": "USD", "sid": self.sid, "status": self.status,
            "subresource_uris": {"media": f"{uri}/Media.json"}, "uri": f"{uri}.json",
        }


@dataclass
class FakeTwilio:
    account_sid: str = field(default_factory=lambda: new_sid("AC"))
    auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    numbers: tuple[str, ...] = ("+15005550006",)
    services: tuple[str, ...] = field(default_factory=lambda: (new_sid("MG"),))
    requests: list[RecordedRequest] = field(default_factory=list)
    messages: dict[str, FakeMessage] = field(default_factory=dict)
    faults: FaultScript = field(default_factory=FaultScript)
    base_url: str = ""
    _routes: dict[str, str] = field(default_factory=dict)

    # -- running -------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route(f"{API}/Accounts/{{account}}/Messages.json", self._messages,
                  methods=["GET", "POST"]),
            Route(f"{API}/Accounts/{{account}}/Messages/{{sid}}.json", self._fetch,
                  methods=["GET"]),
        ])

    async def start(self, servers: Servers) -> FakeTwilio:
        self.base_url = await servers.start(self.app())
        servers.before_stop(self.faults.stop)  # end scripted holds so shutdown is quick
        return self

    # -- what tests look at --------------------------------------------------------------

    def outbound(self) -> list[FakeMessage]:
        return [m for m in self.messages.values() if m.direction == "outbound-api"]

    def posts(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST"]

    # -- the REST API --------------------------------------------------------------------

    async def _record(self, request: Request) -> tuple[RecordedRequest, JSONResponse | None]:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        username, password = None, None
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            try:
                username, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                username = None
        authorized = (username == self.account_sid and password == self.auth_token
                      and request.path_params["account"] == self.account_sid)
        recorded = RecordedRequest(request.method, request.url.path, dict(request.query_params),
                                   form, dict(request.headers), username, authorized)
        self.requests.append(recorded)
        if not authorized:
            response = twilio_error(401, 20003, "Authenticate")
            response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
            return recorded, response
        return recorded, None

    async def _messages(self, request: Request) -> Response:
        recorded, refusal = await self._record(request)
        if refusal is not None:
            return refusal
        fault = self.faults.take(request.method)
        if fault is not None:
            await self.faults.hold(fault.hold_before)
        if request.method == "GET":
            answer: Response = self._list(recorded.query)
        elif fault is not None and fault.status is not None and not fault.create:
            answer = self._fault_answer(fault.status)
        else:
            answer = self._create(recorded.form)
        if fault is not None:
            await self.faults.hold(fault.hold_after)
            if fault.status is not None:
                answer = self._fault_answer(fault.status)
        return answer

    def _fault_answer(self, status: int) -> JSONResponse:
        if status == 429:
            return twilio_error(429, 20429, "Too Many Requests")
        if status == 503:
            return twilio_error(503, 20503, "Service Unavailable")
        return twilio_error(status, 20500, "An internal server error has occurred")

    def _create(self, form: dict[str, str]) -> JSONResponse:
        to, sender = form.get("To", ""), form.get("From") or None
        service, body = form.get("MessagingServiceSid") or None, form.get("Body")
        if not to:
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if sender is None and service is None:
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return twilio_error(400, 21602, "Message body is required.")
        if not E164.match(to):
            return twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if sender is not None and sender not in self.numbers:
            return twilio_error(400, 21606, f"The From phone number {sender} is not a valid, "
                                "SMS-capable inbound phone number or short code for your account.")
        if service is not None and service not in self.services:
            return twilio_error(400, 21701, f"The Messaging Service Sid {service} is invalid.")
        if len(body) > 1600:
            return twilio_error(400, 21617, "The concatenated message body exceeds the 1600 "
                                "character limit.")
        message = FakeMessage(
            sid=new_sid("SM"), account_sid=self.account_sid, to=to, from_=sender, body=body,
            direction="outbound-api", status="queued" if sender else "accepted",
            date_created=datetime.now(UTC), messaging_service_sid=service,
            status_callback=form.get("StatusCallback") or None)
        self.messages[message.sid] = message
        return JSONResponse(message.resource(), status_code=201)

    def _list(self, query: dict[str, str]) -> JSONResponse:
        found = [m for m in reversed(self.messages.values()) if _matches(m, query)]
        found.sort(key=lambda m: m.date_created, reverse=True)  # stable: newest first
        size = min(int(query.get("PageSize", "50")), 1000)
        page = int(query.get("Page", "0"))
        chunk = found[page * size:(page + 1) * size]
        base = f"{API}/Accounts/{self.account_sid}/Messages.json"
        keep = {k: v for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")}

        def uri(number: int) -> str:
            return f"{base}?{urlencode({**keep, 'PageSize': size, 'Page': number})}"

        more = (page + 1) * size < len(found)
        return JSONResponse({
            "messages": [m.resource() for m in chunk], "end": page * size + len(chunk) - 1,
            "first_page_uri": uri(0), "next_page_uri": uri(page + 1) if more else None,
            "page": page, "page_size": size,
            "previous_page_uri": uri(page - 1) if page > 0 else None,
            "start": page * size, "uri": uri(page),
        })

    async def _fetch(self, request: Request) -> Response:
        _, refusal = await self._record(request)
        if refusal is not None:
            return refusal
        message = self.messages.get(request.path_params["sid"])
        if message is None:
            return twilio_error(404, 20404, f"The requested resource {request.url.path} was "
                                "not found")
        return JSONResponse(message.resource())

    # -- webhooks ------------------------------------------------------------------------

    def route(self, public_base: str, actual_base: str) -> None:
        """Requests for ``public_base…`` reach ``actual_base…`` (a reverse proxy)."""
        self._routes[public_base.rstrip("/")] = actual_base.rstrip("/")

    def _resolve(self, url: str) -> str:
        for public, actual in self._routes.items():
            if url.startswith(public):
                return actual + url[len(public):]
        return url

    async def call_webhook(self, url: str, params: dict[str, str], *, sign: bool = True,
                           signed_for: str | None = None, token: str | None = None,
                           tamper: dict[str, str] | None = None) -> httpx.Response:
        """POST ``params`` to ``url`` as Twilio does. The test knobs forge what a real
        Twilio never would: no signature, a signature over another URL or with another
        token, fields changed after signing."""
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                   "User-Agent": "TwilioProxy/1.1",
                   "I-Twilio-Idempotency-Token": secrets.token_hex(16)}
        if sign:
            validator = RequestValidator(token or self.auth_token)
            headers["X-Twilio-Signature"] = validator.compute_signature(
                signed_for or url, params)
        sent = {**params, **(tamper or {})}
        async with httpx.AsyncClient() as client:
            return await client.post(self._resolve(url), content=urlencode(sent),
                                     headers=headers)

    async def deliver_status(self, sid: str, status: str, *, error_code: int | None = None,
                             **knobs: Any) -> httpx.Response:
        message = self.messages[sid]
        assert message.status_callback, f"{sid} was sent without a StatusCallback"
        now = datetime.now(UTC)
        message.status, message.date_updated, message.error_code = status, now, error_code
        if status in ("sent", "delivered", "undelivered") and message.date_sent is None:
            message.date_sent = now
        params = {"SmsSid": sid, "SmsStatus": status, "MessageStatus": status,
                  "To": message.to, "MessageSid": sid, "AccountSid": self.account_sid,
                  "From": message.from_ or self.numbers[0], "ApiVersion": "2010-04-01"}
        if message.messaging_service_sid:
            params["MessagingServiceSid"] = message.messaging_service_sid
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return await self.call_webhook(message.status_callback, params, **knobs)

    async def deliver_inbound(self, url: str, *, from_: str, to: str, body: str,
                              **knobs: Any) -> tuple[str, httpx.Response]:
        """A phone texts one of our numbers; returns the new MessageSid and our answer."""
        sid = new_sid("SM")
        self.messages[sid] = FakeMessage(
            sid=sid, account_sid=self.account_sid, to=to, from_=from_, body=body,
            direction="inbound", status="received", date_created=datetime.now(UTC))
        params = {"ToCountry": "US", "ToState": "CA", "SmsMessageSid": sid, "NumMedia": "0",
                  "ToCity": "", "FromZip": "", "SmsSid": sid, "FromState": "",
                  "SmsStatus": "received", "FromCity": "", "Body": body, "FromCountry": "ID",
                  "To": to, "ToZip": "", "NumSegments": str(num_segments(body)),
                  "MessageSid": sid, "AccountSid": self.account_sid, "From": from_,
                  "ApiVersion": "2010-04-01"}
        return sid, await self.call_webhook(url, params, **knobs)


def _day_or_time(value: str) -> datetime:
    if len(value) == 10:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _matches(message: FakeMessage, query: dict[str, str]) -> bool:
    if "To" in query and message.to != query["To"]:
        return False
    if "From" in query and message.from_ != query["From"]:
        return False
    filters = {k: v for k, v in query.items() if k in ("DateSent", "DateSent<", "DateSent>")}
    if filters and message.date_sent is None:
        return False  # unsent messages have no DateSent to match
    for name, raw in filters.items():
        sent, bound = message.date_sent, _day_or_time(raw)
        assert sent is not None
        day_only = len(raw) == 10
        if name == "DateSent" and (sent.date() != bound.date() if day_only else sent != bound):
            return False
        if name == "DateSent<" and (sent.date() > bound.date() if day_only else sent > bound):
            return False
        if name == "DateSent>" and (sent.date() < bound.date() if day_only else sent < bound):
            return False
    return True
