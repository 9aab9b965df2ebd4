"""The few exceptions the app raises on purpose, each carrying its HTTP status.

    AppError (500)
     ├── BadRequest (400)       malformed body, wrong types, invalid names
     ├── Unauthorized (401)     missing or wrong token
     ├── Forbidden (403)        foreign Origin, non-loopback Host under --no-auth
     ├── NotFound (404)         unknown session or workspace id
     ├── Conflict (409)         name taken, branch in use, workspace not safe to dispose
     ├── PayloadTooLarge (413)  body over the limit
     ├── UnsupportedMediaType (415)  a write whose body is not declared JSON
     ├── BadGateway (502)       a configured host answered with a failure, or not at all
     ├── HostUnavailable (503)  a configured host is not connected now
     └── StorageError (507)     the data dir could not be written

Domain modules raise these; one handler in the web layer turns any of them into
``{"error": message}`` with the status. Nothing else reaches a client.
"""

from __future__ import annotations


class AppError(Exception):
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(AppError):
    status = 400


class Unauthorized(AppError):
    status = 401


class Forbidden(AppError):
    status = 403


class NotFound(AppError):
    status = 404


class Conflict(AppError):
    status = 409


class PayloadTooLarge(AppError):
    status = 413


class UnsupportedMediaType(AppError):
    status = 415


class StorageError(AppError):
    """The data dir could not be written: the change was not made."""

    status = 507


class BadGateway(AppError):
    """A configured host (docs/API.md#hosts) failed to answer a routed request."""

    status = 502


class HostUnavailable(AppError):
    """A configured host is not connected: a request for it is not sent."""

    status = 503
