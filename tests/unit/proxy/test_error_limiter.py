from objproxy.proxy.error_limiter import ErrorLimiter, node_key

NODE = {'ip': '127.0.0.1', 'port': 6010, 'device': 'sdb1'}


class Clock(object):
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_node_is_limited_only_after_more_than_limit_errors():
    clock = Clock()
    limiter = ErrorLimiter(60, 3, clock=clock)
    for _ in range(3):
        limiter.error_occurred(NODE, 'boom')
    assert not limiter.is_limited(NODE)
    limiter.error_occurred(NODE, 'boom')
    assert limiter.is_limited(NODE)
    assert limiter.errors(NODE) == 4


def test_limit_expires_after_the_interval():
    clock = Clock()
    limiter = ErrorLimiter(60, 0, clock=clock)
    limiter.error_occurred(NODE)
    assert limiter.is_limited(NODE)
    clock.now += 61
    assert not limiter.is_limited(NODE)
    assert limiter.errors(NODE) == 0


def test_limit_now_skips_a_node_at_once_and_per_device():
    limiter = ErrorLimiter(60, 10, clock=Clock())
    limiter.limit_now(NODE, '507')
    assert limiter.is_limited(NODE)
    other_device = dict(NODE, device='sdb2')
    assert not limiter.is_limited(other_device)
    assert node_key(NODE) == '127.0.0.1:6010/sdb1'


def test_a_busy_answer_is_the_requests_alone_and_never_limits_the_node():
    limiter = ErrorLimiter(60, 2, clock=Clock())
    for _ in range(10):
        limiter.answered(NODE, 503, {'x-backend-busy': 'true'})
    assert limiter.errors(NODE) == 0
    assert not limiter.is_limited(NODE)


def test_other_5xx_answers_count_and_507_limits_at_once():
    limiter = ErrorLimiter(60, 2, clock=Clock())
    limiter.answered(NODE, 404, {})
    limiter.answered(NODE, 201, {})
    assert limiter.errors(NODE) == 0
    for _ in range(3):
        limiter.answered(NODE, 500, {})
    assert limiter.is_limited(NODE)
    other = dict(NODE, device='sdb2')
    limiter.answered(other, 507, {})
    assert limiter.is_limited(other)
