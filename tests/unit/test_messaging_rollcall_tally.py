"""Roll-call tally (pure): counts by answer and by 参集可能時間 bucket."""
from types import SimpleNamespace as M

from bcp_service.messaging.rollcall import tally_members


def test_tally_counts_answers_eta_buckets_and_silence():
    members = [M(answer="safe_available", eta_minutes=20), M(answer="safe_available", eta_minutes=60),
               M(answer="safe_available", eta_minutes=200), M(answer="safe_available", eta_minutes=None),
               M(answer="safe_unavailable", eta_minutes=None), M(answer="needs_help", eta_minutes=None),
               M(answer=None, eta_minutes=None)]
    t = tally_members(members)
    assert (t.total, t.answered, t.no_answer) == (7, 6, 1)
    assert t.by_answer == {"safe_available": 4, "safe_unavailable": 1, "needs_help": 1}
    assert t.eta == {"30分以内": 1, "1時間以内": 1, "3時間以内": 0, "3時間超": 1, "未回答": 1}
    assert t.available_within_60 == 2


def test_empty_rollcall_tallies_to_zero():
    t = tally_members([])
    assert (t.total, t.answered, t.no_answer, t.available_within_60) == (0, 0, 0, 0)
