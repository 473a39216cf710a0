"""The route table: which route group, diff profile and id handling a request gets.

Matching follows the upstream framework: routes are tried in declaration order, the first route
whose path and method both match wins, else the first whose path matches (the backends answer 405
themselves, and the comparison still has a bounded label). Paths are matched without the query,
percent-decoded per segment; a parameter never binds an empty, `.`/`..`, or slash-bearing segment,
so traversal-looking paths fall to the `<unmatched>` route instead of minting a label.
An unmatched request is never dropped: it gets a fallback spec in group `system`, compared as
bytes, and mirrored only when it is safe (GET/HEAD/OPTIONS) unless `mirror_unknown_writes`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import unquote

from shadowproxy.diff.config import SAFE_METHODS, DiffConfig
from shadowproxy.types import RouteGroup, RouteMatch, RouteSpec

UNMATCHED = "<unmatched>"
_FORBIDDEN_IN_PARAM = ("/", "\\", "\x00")


@dataclass(frozen=True, slots=True)
class _Compiled:
    spec: RouteSpec
    segments: tuple[str, ...]  # literal text, or "{name}" for a parameter

    def bind(self, segments: Sequence[str]) -> dict[str, str] | None:
        if len(segments) != len(self.segments):
            return None
        params: dict[str, str] = {}
        for pattern, segment in zip(self.segments, segments, strict=True):
            if pattern.startswith("{"):
                if segment in ("", ".", "..") or any(c in segment for c in _FORBIDDEN_IN_PARAM):
                    return None
                params[pattern[1:-1]] = segment
            elif pattern != segment:
                return None
        return params

    def allows(self, method: str) -> bool:
        return method in self.spec.methods or (method == "HEAD" and "GET" in self.spec.methods)


class RouteTable:
    def __init__(self, specs: Iterable[RouteSpec], *, mirror_unknown_writes: bool = False) -> None:
        self._routes = tuple(_Compiled(spec, _split(spec.template)) for spec in specs)
        self._mirror_unknown_writes = mirror_unknown_writes
        self._fallback = {
            mirror: RouteSpec(
                group=RouteGroup.SYSTEM,
                template=UNMATCHED,
                methods=frozenset(),
                profile="bytes_equal",
                mirror=mirror,
            )
            for mirror in (False, True)
        }

    @property
    def specs(self) -> tuple[RouteSpec, ...]:
        """Every declared route, in matching order (metrics can pre-create their labels)."""
        return tuple(route.spec for route in self._routes)

    def match(self, method: str, path: str) -> RouteMatch:
        """The route for a request path (no query string); never None."""
        verb = method.upper()
        segments = [unquote(segment) for segment in path.split("/")[1:]]
        path_only: RouteMatch | None = None
        for route in self._routes:
            params = route.bind(segments)
            if params is None:
                continue
            found = RouteMatch(route.spec, MappingProxyType(params))
            if route.allows(verb):
                return found
            if path_only is None:
                path_only = found
        if path_only is not None:
            return path_only
        mirror = verb in SAFE_METHODS or self._mirror_unknown_writes
        return RouteMatch(self._fallback[mirror], MappingProxyType({}))


def _split(template: str) -> tuple[str, ...]:
    return tuple(template.split("/")[1:])


def _route(
    group: RouteGroup,
    methods: str,
    template: str,
    profile: str,
    *,
    id_param: str | None = None,
    creates_id: str | None = None,
    websocket: bool = False,
) -> RouteSpec:
    return RouteSpec(
        group=group,
        template=template,
        methods=frozenset(methods.split()),
        profile=profile,
        mirror=True,  # every TradingAgents route, writes too: each side keeps its own store
        id_param=id_param,
        creates_id=creates_id,
        websocket=websocket,
    )


_SYSTEM, _ANALYSIS, _REPORTS = RouteGroup.SYSTEM, RouteGroup.ANALYSIS, RouteGroup.REPORTS
_PORTFOLIO = RouteGroup.PORTFOLIO

# The 28 routes of the upstream route table (docs/upstream-contract.md §1.1), in the upstream
# declaration order (it matters for path-only matches: `/api/reports/list` and `/export` come before
# `/api/reports/{ticker}/{date}`).
TRADINGAGENTS_ROUTES: tuple[RouteSpec, ...] = (
    _route(_SYSTEM, "GET", "/", "json_equal"),
    _route(_SYSTEM, "GET", "/health", "json_equal"),
    _route(_SYSTEM, "GET", "/api/config/check", "json_equal"),
    _route(_SYSTEM, "POST", "/api/config/apikey", "json_equal"),
    _route(_SYSTEM, "GET", "/api/stocks/screen", "json_equal"),
    _route(_ANALYSIS, "POST", "/api/analysis/start", "analysis_accepted", creates_id="task_id"),
    _route(
        _ANALYSIS, "GET", "/api/analysis/status/{task_id}", "status_document", id_param="task_id"
    ),
    _route(_ANALYSIS, "GET", "/api/analysis/tasks", "task_list"),
    _route(_ANALYSIS, "DELETE", "/api/analysis/cancel/{task_id}", "cancel_ack", id_param="task_id"),
    _route(
        RouteGroup.WS_ANALYSIS,
        "GET",
        "/ws/analysis/{task_id}",
        "status_document",
        id_param="task_id",
        websocket=True,
    ),
    _route(_REPORTS, "GET", "/api/reports/list", "reports_list"),
    _route(_REPORTS, "GET", "/api/reports/export", "csv"),
    _route(_REPORTS, "GET", "/api/reports/{ticker}/{date}", "report_document"),
    _route(_REPORTS, "GET", "/api/reports/{ticker}/{date}/pdf", "status_only"),
    _route(_PORTFOLIO, "GET POST", "/api/portfolio/watchlist", "portfolio_json"),
    _route(_PORTFOLIO, "DELETE", "/api/portfolio/watchlist/{ticker}", "portfolio_json"),
    _route(_PORTFOLIO, "GET POST", "/api/portfolio/accounts", "portfolio_json"),
    _route(_PORTFOLIO, "DELETE", "/api/portfolio/accounts/{account_name}", "portfolio_json"),
    _route(_PORTFOLIO, "GET", "/api/portfolio/positions", "portfolio_json"),
    _route(
        _PORTFOLIO, "POST", "/api/portfolio/positions", "portfolio_json", creates_id="position_id"
    ),
    _route(_PORTFOLIO, "GET", "/api/portfolio/positions/export", "csv"),
    # position_id is a query parameter here; the network layer rewrites path or query by name
    _route(
        _PORTFOLIO,
        "DELETE",
        "/api/portfolio/positions/{ticker}",
        "portfolio_json",
        id_param="position_id",
    ),
    _route(_PORTFOLIO, "GET", "/api/portfolio/recommendations", "recommendations_list"),
    _route(
        _PORTFOLIO,
        "GET",
        "/api/portfolio/recommendations/{date}/{ticker}",
        "recommendation_document",
    ),
    _route(_PORTFOLIO, "POST", "/api/portfolio/analyze", "batch_accepted", creates_id="task_id"),
    _route(RouteGroup.WS_ORCHESTRATOR, "GET", "/ws/orchestrator", "live_signals", websocket=True),
)


def build_route_table(config: DiffConfig) -> RouteTable:
    """Configured routes first (they may refine a built-in path), then the TradingAgents table."""
    return RouteTable(
        [*(route.spec for route in config.routes), *TRADINGAGENTS_ROUTES],
        mirror_unknown_writes=config.mirror_unknown_writes,
    )
