"""The sample alert rules (deploy/prometheus/) name metrics the gateway really exports (issue 19.1)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from routing.control import UsageControl
from routing.usage.metrics import UsageMetrics

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "hybrid-assist-alerts.yaml"


def test_every_metric_an_alert_watches_is_exported() -> None:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert {"HybridAssistLedgerUnavailable", "HybridAssistLedgerJournalGrowing"} <= {r["alert"] for r in rules}
    metrics = UsageMetrics()
    UsageControl(None, None, None, metrics)  # registers the ledger's gauges and counter
    exported = set(re.findall(r"^# TYPE (\S+) ", metrics.exposition().decode(), re.MULTILINE))
    exported |= {f"{name}_total" for name in exported}
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning"} and rule["annotations"]["summary"]
        watched = set(re.findall(r"hybrid_assist_[a-z_]+", rule["expr"]))
        assert watched and watched <= exported, (rule["alert"], watched - exported)
