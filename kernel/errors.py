"""One JSON error shape for every HTTP answer: ``{"error": {"code", "message"}}``.

Codes are stable snake_case strings clients can branch on; messages are for people.
Validation errors name the offending field so a client can fix its request.

Every status a route can answer is declared in the OpenAPI document with this shape
(:func:`responses`): the codes its dependencies produce (401 from the bearer token, 403 from
a role check, 422 from parameters) on the route or its router, the ones every request can
meet (400 and 413 from the body limit) on the app.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException

from kernel.db import connection_failed

log = logging.getLogger("siaga.http")


class ApiError(Exception):
    """An error answer: raise it anywhere in a request handler."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.details = details


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"error": error}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any] | None = None


class ErrorOut(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail


_MEANINGS = {
    400: "malformed request (an invalid Content-Length, say)",
    401: "missing, invalid, expired or revoked bearer token",
    403: "the caller's role (or agency) may not do this",
    404: "no such resource, or none the caller may see",
    409: "the resource changed meanwhile, or the change conflicts with its state",
    413: "the request body is larger than the server accepts",
    416: "the byte range cannot be served",
    422: "a parameter or the body is invalid; the message names the field",
    429: "too many attempts; Retry-After says when to try again",
    503: "the server cannot answer now: the database cannot be reached (try again), or a "
         "data file of the city's is invalid (the message names it)",
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of error answers, for a route's or router's ``responses=``."""
    return {code: {"model": ErrorOut, "description": _MEANINGS[code]} for code in codes}


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def _out_of_range(request: Request, exc: OverflowError) -> JSONResponse:
    log.warning("value out of range", extra={"path": request.url.path, "reason": str(exc)})
    return JSONResponse(error_body("out_of_range", "a number or date in the request is out of "
                                   "range"), 422)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        level = logging.WARNING if exc.status < 500 else logging.ERROR
        log.log(level, "request refused", extra={"status": exc.status, "code": exc.code,
                                                 "path": request.url.path, "reason": exc.message})
        return JSONResponse(error_body(exc.code, exc.message, exc.details), exc.status,
                            headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"] if p not in ("body", "query", "path"))
        message = f"{where}: {first['msg']}" if where else str(first["msg"])
        log.warning("invalid request", extra={"path": request.url.path, "reason": message})
        return JSONResponse(error_body("invalid_request", message), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> JSONResponse:
        return _out_of_range(request, exc)

    @app.exception_handler(StatementError)
    async def _statement(request: Request, exc: StatementError) -> JSONResponse:
        # A value from the request that the driver could not bind (a date past year 9999
        # once moved to UTC, an integer past 64 bits on SQLite): the request was bad, not
        # the server. Anything else the database refused is the server's fault.
        if isinstance(exc.orig, OverflowError):
            return _out_of_range(request, exc.orig)
        return await _unexpected(request, exc)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        # Handled here, not by the catch-all below: Starlette answers that one and then
        # re-raises, and the server closes the keep-alive connection after it.
        if not connection_failed(exc):
            raise exc
        log.error("database unavailable", extra={"path": request.url.path,
                                                  "reason": str(exc).splitlines()[0]})
        return JSONResponse(
            error_body("database_unavailable",
                       "Basis data sedang tidak dapat dihubungi; coba lagi sebentar "
                       "(database unavailable, try again)"), 503, headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return JSONResponse(error_body("internal_error", "internal server error"), 500)
