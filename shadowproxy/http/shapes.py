"""The drift learner's shapes over the proxy's life: loaded before traffic, saved while learning
(every `SAVE_EVERY_S` when something was learned) and once more at the end.

They are kept in the state dir (`cutover/shapes.py`); in a scale-out also in the shared store
(`cutover/shared_shapes.py`), from which a replica that starts with nothing learned restores the
most learned replica's. A store that does not answer only costs that head start.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from shadowproxy.contracts.drift import ShapeLearner
from shadowproxy.cutover.shapes import SAVE_EVERY_S, ShapeFile
from shadowproxy.cutover.shared_shapes import SharedShapes
from shadowproxy.errors import StoreUnavailable
from shadowproxy.http.context import CLUSTER, INSPECTOR, SETTINGS
from shadowproxy.tasks import BackgroundTasks

log = structlog.get_logger(__name__)


async def keep_shapes(app: web.Application) -> AsyncIterator[None]:
    learner = app[INSPECTOR].learner
    if learner is None:
        yield
        return
    shapes = ShapeFile(app[SETTINGS].state_dir)
    shapes.load(learner)
    cluster = app.get(CLUSTER)
    shared = None if cluster is None else SharedShapes(cluster.store)
    if shared is not None and not learner.report():
        await _restore(shared, learner)

    async def save() -> None:
        if not learner.changed:
            return
        snapshot = learner.snapshot()
        try:
            await asyncio.to_thread(shapes.save, snapshot)
        except OSError as exc:
            learner.changed = True  # not on disk: the next round tries again
            log.warning("drift_shapes_not_saved", path=str(shapes.path), error=str(exc))
        if shared is not None:
            try:
                await shared.save(snapshot)
            except StoreUnavailable:
                learner.changed = True  # the next round shares them

    async def keep() -> None:
        while True:
            await asyncio.sleep(SAVE_EVERY_S)
            await save()

    keeper = BackgroundTasks()
    keeper.spawn(keep(), name="drift shapes")
    try:
        yield
    finally:
        await keeper.drain(0)
        await save()


async def _restore(shared: SharedShapes, learner: ShapeLearner) -> None:
    try:
        source = await shared.restore(learner)
    except StoreUnavailable:
        log.warning("drift_shapes_not_shared", hint="learning starts from nothing")
        return
    if source is not None:
        log.info("drift_shapes_restored_from_store", replica=source)
