"""Families of canonical field paths that the rollback triggers and the checkpoints judge alike.

A canonical field is a profile's dotted path, e.g. `decision`, `tasks[AAPL_1].decision`,
`signals[AAPL:2026-01-05].direction`; each pattern matches the whole path.
"""

from __future__ import annotations

import re

# what a finished run decided: losing it is "completed analysis loses decision or confidence"
RESULT_FIELDS = re.compile(r"(.+\.)?(decision|confidence|direction)")
# the single-lane signals and the degraded flag: "degraded single-lane signals are reclassified"
LANE_FIELDS = re.compile(r"(.+\.)?(quant_rating|llm_rating|quant_direction|llm_direction|degraded)")
# the text a failed run or a refused request gives its user
ERROR_FIELDS = re.compile(r"(.+\.)?(error(\..+)?|detail)")
# where a task list or a start names its task
TASK_ID_FIELDS = re.compile(r"(.+\.)?task_id|tasks\[[^\]]*\]")
