"""The expirer: one conditional DELETE per due entry to the node's own
object server; the entry goes only once the answer is final."""
import pytest

from objproxy.daemons import expirer as expirer_mod
from objproxy.storage import expiry_queue


class FakeRing(object):
    def get_nodes(self, account, container=None, obj=None):
        return 9, [{'ip': '10.0.0.1', 'port': 6201, 'device': 'd1'},
                   {'ip': '10.0.0.2', 'port': 6202, 'device': 'd2'}]


@pytest.fixture
def devices(tmp_path):
    (tmp_path / 'sdb1').mkdir()
    return tmp_path


def make_expirer(devices, answers, calls):
    def fake_request(pool, node, method, path, headers=None, **kwargs):
        calls.append((node, method, path, headers))
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer, {}, b''
    expirer_mod.request = fake_request
    return expirer_mod.ObjectExpirer(
        {'devices': str(devices), 'bind_ip': '127.0.0.9',
         'bind_port': '6209', 'log_level': 'ERROR'},
        container_ring=FakeRing())


@pytest.fixture(autouse=True)
def restore_request():
    real = expirer_mod.request
    yield
    expirer_mod.request = real


def queue(devices, delete_at=1000, obj='o'):
    return expiry_queue.enqueue(str(devices / 'sdb1'), delete_at, 'h' + obj,
                                5, 'AUTH_a', 'c', obj, fsync=False)


def test_a_due_entry_becomes_a_conditional_delete_at_the_expiry_time(
        devices):
    queue(devices, obj='caf\u00e9')
    calls = []
    stats = make_expirer(devices, [204], calls).run_once()
    [(node, method, path, headers)] = calls
    assert node == {'ip': '127.0.0.9', 'port': 6209}
    # the path goes raw: the connection encodes the request line once
    assert (method, path) == ('DELETE', '/sdb1/5/AUTH_a/c/caf\u00e9')
    assert headers['X-Timestamp'] == '0000001000.00000'
    assert headers['X-If-Delete-At'] == '1000'
    assert headers['X-Container-Host'] == '10.0.0.1:6201,10.0.0.2:6202'
    assert headers['X-Container-Device'] == 'd1,d2'
    assert headers['X-Container-Partition'] == '9'
    assert stats['expired'] == 1
    assert list(expiry_queue.due_entries(str(devices / 'sdb1'), 2000)) == []


@pytest.mark.parametrize('status,outcome', [
    (404, 'already_gone'), (412, 'superseded'), (409, 'superseded')])
def test_a_final_answer_drops_the_entry(devices, status, outcome):
    queue(devices)
    stats = make_expirer(devices, [status], []).run_once()
    assert stats[outcome] == 1 and stats['failures'] == 0
    assert list(expiry_queue.due_entries(str(devices / 'sdb1'), 2000)) == []


@pytest.mark.parametrize('answer', [503, 507, OSError('refused')])
def test_a_failed_delete_keeps_the_entry_for_the_next_pass(devices, answer):
    queue(devices)
    expirer = make_expirer(devices, [answer, 204], [])
    assert expirer.run_once()['failures'] == 1
    assert expirer.run_once()['expired'] == 1


def test_entries_not_yet_due_are_left_alone(devices):
    import time
    queue(devices, delete_at=int(time.time()) + 3600)
    calls = []
    assert make_expirer(devices, [], calls).run_once()['expired'] == 0
    assert calls == []
