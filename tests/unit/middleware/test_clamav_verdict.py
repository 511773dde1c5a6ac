"""Where a verdict update goes: every primary, and a handoff in place of
each primary that is down or lacks the object."""
import pytest

from middleware import clamav_verdict


class Ring:
    """Three primaries (sda..sdc) and three handoffs (sdd..sdf)."""

    def __init__(self):
        self.devs = [{'device': 'sd' + c, 'ip': '127.0.0.1', 'port': 6000 + i}
                     for i, c in enumerate('abcdef')]

    def get_nodes(self, account, container, obj):
        return 7, self.devs[:3]

    def get_more_nodes(self, part):
        return iter(self.devs[3:])


@pytest.fixture
def nodes(monkeypatch):
    """answers: device -> a status or an exception; sent: devices asked."""
    answers, sent = {}, []
    sent_headers = {}

    def request(pool, node, method, path, headers, **kw):
        assert method == 'POST' and headers['X-Backend-Verdict-Update']
        assert path == '/%s/7/a/c/o' % node['device']
        sent.append(node['device'])
        sent_headers.update(headers)
        answer = answers.get(node['device'], 404)
        if isinstance(answer, Exception):
            raise answer
        return answer, {}, b''
    monkeypatch.setattr(clamav_verdict, 'request', request)
    request.headers = sent_headers
    return answers, sent


def update(headers=None, **kwargs):
    return clamav_verdict.update_replicas(
        None, Ring(), 'a', 'c', 'o',
        headers or clamav_verdict.verdict_headers('infected', 'e', 's', 'X'),
        **kwargs)


def test_when_every_primary_takes_it_no_handoff_is_asked(nodes):
    answers, sent = nodes
    answers.update(sda=202, sdb=202, sdc=202)
    assert update() == 3
    assert sent == ['sda', 'sdb', 'sdc']


def test_a_primary_without_the_object_sends_the_update_to_the_handoffs(nodes):
    answers, sent = nodes
    answers.update(sda=202, sdb=202, sdc=404, sde=202)
    assert update() == 3
    assert sent == ['sda', 'sdb', 'sdc', 'sdd', 'sde']


def test_a_down_primary_is_replaced_by_a_handoff(nodes):
    answers, sent = nodes
    answers.update(sda=ConnectionRefusedError(), sdb=202, sdc=202, sdd=202)
    assert update() == 3
    assert sent == ['sda', 'sdb', 'sdc', 'sdd']


def test_at_most_one_handoff_per_replica_is_tried(nodes):
    answers, sent = nodes
    answers.update(sda=503)
    assert update() == 0
    assert sent == ['sda', 'sdb', 'sdc', 'sdd', 'sde', 'sdf']


def test_the_update_names_the_upload_it_judged(nodes):
    answers, _sent = nodes
    answers.update(sda=202, sdb=202, sdc=202)
    update(data_timestamp='0000000001.00000')
    assert clamav_verdict.request.headers[
        'X-Backend-Verdict-Data-Timestamp'] == '0000000001.00000'
