#!/usr/bin/env bash
# deploy/prometheus/alerts.yml: parses as YAML with the structure Prometheus expects, uses
# only metric names the server exports (the names fixed for issue 11 plus `up`), and, when
# promtool is installed (Debian's `prometheus` package, or PROMTOOL=/path/to/promtool),
# passes `promtool check rules` and the rule unit tests in tests/deploy/alerts_test.yml
# (kiosk offline only in business hours, a bad self-test cleared by the next one does not
# fire, database down, spool growing, server down).
set -euo pipefail
cd "$(dirname "$0")/../.."

python=$(command -v /usr/bin/python3 || command -v python3 || true)
if [ -z "$python" ] || ! "$python" -c 'import yaml' 2>/dev/null; then
	echo "deploy-alerts: python3 with PyYAML (python3-yaml) not found; skipping" >&2
	exit 77
fi

"$python" - deploy/prometheus/alerts.yml <<'EOF'
import re, sys, yaml

# The gauges the alert rules may use (shared notes of issue 11, metrics.c) and Prometheus's
# own `up`.
known = {
    "up", "madoguchi_db_up", "madoguchi_records_pending", "madoguchi_sessions",
    "madoguchi_kiosk_online", "madoguchi_kiosk_audio_silent", "madoguchi_kiosk_audio_missing",
    "madoguchi_kiosk_video_black", "madoguchi_kiosk_video_frozen",
    "madoguchi_kiosk_video_missing", "madoguchi_kiosk_audio_level_dbfs",
    "madoguchi_kiosk_video_luma", "madoguchi_kiosk_health_age_seconds",
    "madoguchi_selftests_total", "madoguchi_selftest_cpu_seconds_total",
}
doc = yaml.safe_load(open(sys.argv[1]))
assert isinstance(doc, dict) and list(doc) == ["groups"], "top level must be {groups: [...]}"
records, alerts = set(), []
for g in doc["groups"]:
    assert set(g) <= {"name", "interval", "rules"} and g.get("name"), f"bad group {g}"
    for r in g["rules"]:
        assert isinstance(r.get("expr"), str) and r["expr"].strip(), f"rule without expr: {r}"
        if "record" in r:
            assert set(r) <= {"record", "expr", "labels"}, f"bad recording rule {r}"
            records.add(r["record"])
        else:
            assert set(r) <= {"alert", "expr", "for", "labels", "annotations"}, f"bad alert {r}"
            assert re.fullmatch(r"[A-Z][A-Za-z]+", r["alert"]), r["alert"]
            assert r["labels"]["severity"] in ("critical", "warning", "info"), r["alert"]
            assert r["annotations"]["summary"] and r["annotations"]["description"], r["alert"]
            assert re.fullmatch(r"\d+[smh]", r.get("for", "0s")), r["alert"]
            alerts.append(r["alert"])
for g in doc["groups"]:
    for r in g["rules"]:
        expr = re.sub(r'"[^"]*"', '""', r["expr"])
        for name in re.findall(r"\b(madoguchi[:_][A-Za-z0-9_:]*|up)\b", expr):
            assert name in known or name in records, f"{r.get('alert', r.get('record'))}: unknown metric {name}"
need = {"MadoguchiKioskOffline", "MadoguchiKioskMicSilent", "MadoguchiKioskCameraBlack",
        "MadoguchiKioskCameraFrozen", "MadoguchiDatabaseDown", "MadoguchiSpoolGrowing"}
assert need <= set(alerts), f"missing alerts: {need - set(alerts)}"
print(f"deploy-alerts: ok - {len(alerts)} alerts, {len(records)} recording rules, known metrics only")
EOF

promtool=${PROMTOOL:-$(command -v promtool || true)}
if [ -z "$promtool" ]; then
	echo "deploy-alerts: note: promtool not installed; PromQL not checked (set PROMTOOL or" \
		"install the prometheus package to run tests/deploy/alerts_test.yml)" >&2
	exit 0
fi
"$promtool" check rules deploy/prometheus/alerts.yml
"$promtool" test rules tests/deploy/alerts_test.yml
echo "deploy-alerts: ok - promtool check rules and test rules"
