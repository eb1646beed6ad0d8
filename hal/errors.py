"""The HAL's exception classes: each keeps the facts of the failure as attributes."""

from __future__ import annotations


class HalError(Exception):
    """Base class of every error the HAL raises."""


class ProtocolError(HalError):
    """A frame payload that is not a valid protocol message; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PortError(HalError):
    """A serial port URL that cannot be opened (unknown device, malformed URL, refused)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot open {url!r}: {reason}")
        self.url = url
        self.reason = reason


class LinkDown(HalError):
    """The request could not be sent or answered because the port is gone."""

    def __init__(self, url: str) -> None:
        super().__init__(f"link to {url!r} is down")
        self.url = url


class DeviceTimeout(HalError):
    """No answer to a request after every retry."""

    def __init__(self, command: str, attempts: int, timeout_s: float) -> None:
        super().__init__(
            f"{command}: no answer after {attempts} attempt(s) of {timeout_s * 1000:.0f} ms"
        )
        self.command = command
        self.attempts = attempts
        self.timeout_s = timeout_s


class DeviceNack(HalError):
    """The device refused a request; ``code`` is its NACK code, ``arg_index`` the bad argument."""

    def __init__(self, command: str, code: int, code_name: str, arg_index: int | None) -> None:
        where = "" if arg_index is None else f" (argument {arg_index})"
        super().__init__(f"{command}: device refused with {code_name}{where}")
        self.command = command
        self.code = code
        self.code_name = code_name
        self.arg_index = arg_index
