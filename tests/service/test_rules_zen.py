"""zen decisions are evaluated without starting threads: ``ZenDecision.evaluate`` (zen-engine
2.1) builds a Tokio runtime on every call, 0.1 ms at best and milliseconds on a busy machine
(bench/rules found it; ``engine.Decisions`` evaluates through the engine instead)."""

from __future__ import annotations

import resource

from orderhub.rules.engine import Decisions
from orderhub.rules.model import to_jdm, validate

TABLE = {"inputs": ["total"], "outputs": ["tag"], "rows": [{"when": ["> 20"], "then": ["big"]}]}


def switches() -> int:
    """Times this thread waited (voluntary context switches): for a thread started and joined."""
    return resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw


def test_a_decision_is_evaluated_without_starting_threads() -> None:
    table, _ = validate("order.captured", TABLE)
    evaluate = Decisions().add("v1", to_jdm(table))
    assert evaluate({"total": 30})["result"] == {"tag": "big"}
    assert evaluate({"total": 10})["result"] == {}
    before = switches()
    for total in range(200):
        evaluate({"total": total})
    assert switches() - before < 20
