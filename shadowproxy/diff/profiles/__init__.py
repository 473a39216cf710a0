"""The profile registry: route profile name -> the profile that projects its bodies.

One module per family: `status` (analysis documents and accepted/ack envelopes), `tasks` (the
task list), `live` (orchestrator signals), `reports` (list, document, CSV), `recommendations`,
and `generic` (whole JSON, key fields, portfolio JSON, bytes, status only).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from shadowproxy.diff.profile import Profile
from shadowproxy.diff.profiles.generic import (
    BytesEqual,
    JsonEqual,
    JsonFields,
    PortfolioJson,
    StatusOnly,
)
from shadowproxy.diff.profiles.live import LiveSignals
from shadowproxy.diff.profiles.recommendations import RecommendationDocument, RecommendationsList
from shadowproxy.diff.profiles.reports import Csv, ReportDocument, ReportsList
from shadowproxy.diff.profiles.status import (
    AnalysisAccepted,
    BatchAccepted,
    CancelAck,
    StatusDocument,
)
from shadowproxy.diff.profiles.tasks import TaskList

_ALL: tuple[Profile, ...] = (
    StatusDocument(),
    AnalysisAccepted(),
    CancelAck(),
    BatchAccepted(),
    TaskList(),
    LiveSignals(),
    ReportsList(),
    ReportDocument(),
    Csv(),
    RecommendationsList(),
    RecommendationDocument(),
    PortfolioJson(),
    StatusOnly(),
    JsonEqual(),
    JsonFields(),
    BytesEqual(),
)

PROFILES: Mapping[str, Profile] = MappingProxyType({profile.name: profile for profile in _ALL})
