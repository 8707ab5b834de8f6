"""Issue 18: one-tap answers are limited per link, not per address (a mass outage behind one NAT must
not throttle families), and rate-limit counters live in shared storage (Redis) across workers."""
import socket

import pytest

from bcp_service.messaging.tokens import TapClaims, make_token
from tests.conftest import csrf_from


def test_many_families_behind_one_address_are_not_throttled_but_one_link_is(app, client):
    secret = app.config["SECRET_KEY"]
    tokens = [make_token(secret, TapClaims("rollcall", i, 999_999)) for i in range(1, 71)]
    statuses = [client.post(f"/r/{t}", data={"answer": "1"}).status_code for t in tokens]
    assert 429 not in statuses and set(statuses) == {410}
    one = [client.post(f"/r/{tokens[0]}", data={"answer": "1"}).status_code for _ in range(12)]
    assert 429 in one


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_up(), reason="no Redis at 127.0.0.1:6379")
def test_failed_login_limits_are_shared_by_every_worker_through_redis(app, make_region, make_user, clock):
    import redis

    from bcp_service.app import create_app

    # The limiter is one object per process (it keeps its first key prefix): start from empty counters.
    redis.Redis(host="127.0.0.1", port=6379, db=15).flushdb()
    make_region()
    user = make_user("hub_staff")
    shared = {"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/15", "LOGIN_RATE_LIMIT": "10 per minute"}
    workers = []
    for _ in range(2):
        worker = create_app({"DATABASE_URL": app.config["DATABASE_URL"], "TESTING": True, **shared}, clock=clock)
        workers.append(worker.test_client())
    statuses = []
    for i in range(12):
        c = workers[i % 2]
        page = c.get("/login").get_data(as_text=True)
        statuses.append(c.post("/login", data={"email": user.email, "password": "wrong-password-!!",
                                               "csrf_token": csrf_from(page)}).status_code)
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]


def test_the_storage_comes_from_config():
    from bcp_service import config

    assert config.load({"BCP_ENV": "demo"})["RATELIMIT_STORAGE_URI"] == "memory://"
    assert config.load({"BCP_ENV": "demo", "RATELIMIT_STORAGE_URI": "redis://cache:6379/0"})[
        "RATELIMIT_STORAGE_URI"] == "redis://cache:6379/0"
