"""`make eval`: the per-intent report and confusion on held-out data, and the crisis detector's numbers."""

import sys

from haven.evaluation import evaluate, format_report

if __name__ == "__main__":
    report = evaluate()
    print(format_report(report))
    ok = report.topic_accuracy >= 0.95 and report.off_topic_refusal_rate >= 0.90
    if report.crisis_total:
        ok = ok and report.crisis_recall == 1.0 and report.false_alarm_rate <= 0.03
    sys.exit(0 if ok else 1)
