"""api.paginate_items: one page of an in-memory list and the true total."""
from bcp_service.api import paginate_items


def test_a_page_reports_the_true_total_not_the_page_length():
    items = list(range(7))
    assert paginate_items(items, limit=3, offset=0) == {"items": [0, 1, 2], "total": 7}
    assert paginate_items(items, lambda x: {"n": x}, limit=3, offset=6) == {"items": [{"n": 6}], "total": 7}
    assert paginate_items(items, limit=3, offset=9) == {"items": [], "total": 7}
