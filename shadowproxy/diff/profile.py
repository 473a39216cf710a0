"""What every profile is: a callable that projects one side's parsed body to a canonical view.

Profiles are configured once (their normalizer chain is built in `__init__`) and called per body
with a `Context` naming the side and the correlation map, so one instance serves every request.
`body` tells the engine how to turn bytes into the value the profile receives.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from shadowproxy.diff.view import View
from shadowproxy.types import IdAliases, JSONValue, Side


class BodyKind(StrEnum):
    JSON = "json"  # orjson; a body that does not parse is compared as bytes
    CSV = "csv"  # UTF-8 text split into rows of cells
    BYTES = "bytes"  # length and digest only
    HEADERS = "headers"  # the body is not comparable (PDF): the content type stands in for it


@dataclass(frozen=True, slots=True)
class Context:
    side: Side
    ids: IdAliases
    key_fields: tuple[str, ...] = ()  # json_fields only, from the configured route

    def canonical_id(self, value: JSONValue) -> str | None:
        """An id in legacy terms: app ids go through the correlation map; unknown ones stay."""
        if not isinstance(value, str):
            return None
        if self.side is Side.APP:
            return self.ids.get(value, value)
        return value


class Profile(ABC):
    name: ClassVar[str]
    body: ClassVar[BodyKind] = BodyKind.JSON

    @abstractmethod
    def __call__(self, value: JSONValue, context: Context) -> View: ...
