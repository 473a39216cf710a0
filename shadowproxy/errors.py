"""The proxy's one exception tree: which exception means what, drawn once.

    ShadowproxyError                 every error the proxy raises on purpose
    ├── UsageError (ValueError)      an operator's input is unusable: exit code 2, a sentence
    │   ├── ConfigError              the TOML config file (names the file and the key)
    │   └── SettingsError            an environment variable (names the variable)
    │       └── FlagStateError       flags.json exists but cannot be used
    ├── UpstreamError                a side gave no HTTP answer; `status` is what a client gets
    │   ├── UpstreamUnavailable      refused, reset or a broken response: 502
    │   ├── UpstreamTimeout          no answer in time: 504
    │   └── UpstreamRefused          a websocket upgrade answered with an HTTP status instead
    ├── RunError                     a command could not finish: exit code 1, a report
    │   ├── UnreadableFile           a file or folder the operator named cannot be read
    │   ├── StackError               `shadowproxy up`: a child failed to start or died
    │   └── DemoError                `shadowproxy demo`: a step of the session failed
    └── GateFailed                   a check the command makes did not pass: exit code 3

Pure: aiohttp's and asyncio's errors are translated into this tree only at the network edge
(`shadowproxy.http.upstream.map_client_errors`), so everything above the edge, the websocket
pumps included, reasons about these classes only.
"""

from __future__ import annotations

from shadowproxy.types import Side


class ShadowproxyError(Exception):
    """Root of every error the proxy raises on purpose."""


class UsageError(ShadowproxyError, ValueError):
    """Input from an operator that cannot be used; the message says what to change."""


class ConfigError(UsageError):
    """A config file that cannot be used; the message names the file and the key."""


class SettingsError(UsageError):
    """A setting could not be parsed; the message names the variable and what was wrong."""


class StateFileError(SettingsError):
    """A state file exists but cannot be used: a startup problem reported like a bad setting."""


class FlagStateError(StateFileError):
    """flags.json exists but cannot be used."""


class UpstreamError(ShadowproxyError):
    """A side gave no HTTP answer; `status` is what the client gets if it was authoritative."""

    status = 502
    kind = "unavailable"

    def __init__(self, side: Side, detail: str) -> None:
        super().__init__(f"{side} upstream {detail}")
        self.side = side
        self.detail = detail


class UpstreamUnavailable(UpstreamError):
    """Connection refused, reset, or a broken response: a 502 Bad Gateway."""


class UpstreamTimeout(UpstreamError):
    """No answer within the configured time: a 504 Gateway Timeout."""

    status = 504
    kind = "timeout"


class UpstreamRefused(UpstreamError):
    """The side answered a websocket upgrade with an HTTP status instead of 101.

    `status` is the side's own status, passed to the client as it is.
    """

    kind = "refused"

    def __init__(self, side: Side, status: int) -> None:
        super().__init__(side, f"refused the websocket upgrade with HTTP {status}")
        self.status = status


class StoreUnavailable(ShadowproxyError):
    """The shared store (Redis) did not answer: the caller degrades, it never fails a client."""


class RunError(ShadowproxyError):
    """A command could not finish; the message is the report for the operator."""


class UnreadableFile(RunError):
    """A file or folder the operator named cannot be read; the message names it."""


class StackError(RunError):
    """A child failed to start or died; the message is the report for the operator."""


class DemoError(RunError):
    """The session could not go on; the message says which step and why."""


class GateFailed(ShadowproxyError):
    """A gate refused: e.g. the admin API will not move a group whose cutover is blocked."""
