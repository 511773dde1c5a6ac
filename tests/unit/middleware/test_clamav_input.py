"""ScanningInput on its own: what reaches the proxy before the verdict."""
import io

import pytest

from middleware.clamav_input import ScanningInput
from objproxy.common.exceptions import InputRejected


class Verdict(object):
    def __init__(self, status, signature=None):
        self.status = status
        self.signature = signature


class FakeStream(object):
    """Stands in for clamd's INSTREAM; the verdict is decided up front."""

    def __init__(self, verdict):
        self.verdict = verdict
        self.sent = b''
        self.finished = False

    def write(self, data):
        self.sent += data

    def finish(self):
        self.finished = True
        return self.verdict

    def close(self):
        pass


def reject(status, kind, detail, received):
    return InputRejected(status, kind.encode())


def scanning(body, verdict, chunk=4):
    stream = FakeStream(verdict)
    inp = ScanningInput(io.BytesIO(body), stream, len(body), 1 << 20,
                        chunk, reject)
    return inp, stream


def test_the_end_of_the_body_waits_for_a_clean_verdict():
    inp, stream = scanning(b'abcdefghij', Verdict('OK'))
    got = inp.read(4)
    assert got == b'abcd' and not stream.finished
    rest = inp.read()
    assert got + rest == b'abcdefghij'
    assert stream.finished and stream.sent == b'abcdefghij'
    assert inp.complete


def test_an_infected_body_never_ends():
    inp, stream = scanning(b'abcdefghij', Verdict('FOUND', 'Eicar'))
    received = b''
    with pytest.raises(InputRejected) as err:
        while True:
            chunk = inp.read(4)
            if not chunk:
                break
            received += chunk
    assert err.value.status == '403 Forbidden'
    assert len(received) < 10          # the last bytes were withheld
    with pytest.raises(InputRejected):
        inp.read(4)                     # and stay so


@pytest.mark.parametrize('sizes', [(4,), (3,), (5, 1, 7), (8, 2)])
def test_reads_of_any_size_return_exactly_the_body_in_order(sizes):
    body = bytes(range(97, 123)) * 3
    inp, stream = scanning(body, Verdict('OK'))
    got, turn = [], 0
    while True:
        size = sizes[turn % len(sizes)]
        turn += 1
        piece = inp.read(size)
        if not piece:
            break
        got.append(piece)
        if not stream.finished:
            # before the verdict every read is whole and some bytes wait
            assert len(piece) == size
            assert sum(map(len, got)) < len(body)
    assert b''.join(got) == body and inp.complete


def test_lines_and_reads_can_be_mixed():
    body = b'first line\nsecond\n' + b'x' * 10 + b'\nlast'
    inp, _stream = scanning(body, Verdict('OK'), chunk=3)
    assert inp.readline() == b'first line\n'
    assert inp.read(4) == b'seco'
    assert inp.readline() == b'nd\n'
    assert inp.readline(4) == b'xxxx'
    assert inp.read() == b'x' * 6 + b'\nlast'
