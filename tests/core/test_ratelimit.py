"""Failed-login throttling core: time is stepped by hand."""

from kernel.ratelimit import FailureLimiter


def test_blocks_after_max_failures_until_the_oldest_leaves_the_window() -> None:
    limiter = FailureLimiter(max_failures=3, window=60)
    for t in (0, 10, 20):
        assert limiter.retry_after("user:a", t) == 0
        limiter.record_failure("user:a", t)
    assert limiter.retry_after("user:a", 30) == 30  # first failure leaves at t=60
    assert limiter.retry_after("user:a", 60) == 0


def test_keys_are_independent_and_clear_resets_one() -> None:
    limiter = FailureLimiter(max_failures=1, window=60)
    limiter.record_failure("user:a", 0)
    limiter.record_failure("addr:x", 0)
    assert limiter.retry_after("user:b", 1) == 0
    limiter.clear("user:a")
    assert limiter.retry_after("user:a", 1) == 0
    assert limiter.retry_after("addr:x", 1) == 59


def test_memory_is_released_for_keys_that_stop_failing() -> None:
    limiter = FailureLimiter(max_failures=2, window=10)
    for i in range(100):
        limiter.record_failure(f"addr:{i}", 0)
    for i in range(100):
        limiter.retry_after(f"addr:{i}", 100)
    assert limiter._failures == {}
