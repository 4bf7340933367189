"""`make eval`: the per-intent report and confusion on held-out data, the crisis detector's numbers, and
the practice FAQ's accuracy and refusals (haven_devtools/faq_evaluation.py; the blind FAQ set when
present)."""

import sys

from haven_devtools.evaluation import evaluate, format_report
from haven_devtools.faq_evaluation import evaluate_faq, format_faq

if __name__ == "__main__":
    report = evaluate()
    print(format_report(report))
    print(format_faq(evaluate_faq()))
    ok = report.topic_accuracy >= 0.95 and report.off_topic_refusal_rate >= 0.90
    if report.crisis_total:
        ok = ok and report.crisis_recall == 1.0 and report.false_alarm_rate <= 0.03
    sys.exit(0 if ok else 1)
