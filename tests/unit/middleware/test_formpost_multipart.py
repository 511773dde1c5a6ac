"""The streaming multipart/form-data reader: framing, headers, bodies
split across reads, bounded memory, and truncated or foreign input."""
import io

import pytest

from middleware.formpost_multipart import (
    FormTruncated, MimeInvalid, MultipartReader, parse_header_params)

BOUNDARY = 'XyZ123'


def form(*parts, boundary=BOUNDARY, lead=b'', close=True):
    """A multipart body of (headers bytes, body bytes) parts."""
    out = lead + b'--' + boundary.encode()
    for headers, body in parts:
        out += b'\r\n' + headers + b'\r\n' + body + b'\r\n--' + \
            boundary.encode()
    return out + (b'--\r\n' if close else b'')


class Trickle(object):
    """An input that hands out at most ``step`` bytes per read."""

    def __init__(self, data, step=7):
        self.data = io.BytesIO(data)
        self.step = step

    def read(self, size=-1):
        return self.data.read(min(size, self.step) if size >= 0
                              else self.step)


def read_all(part, size):
    chunks = []
    while True:
        data = part.read(size)
        if not data:
            return b''.join(chunks)
        chunks.append(data)


def collect(body, chunk_size=16, step=7, read_size=5):
    reader = MultipartReader(Trickle(body, step), BOUNDARY,
                             chunk_size=chunk_size)
    return [(part.headers(), read_all(part, read_size))
            for part in reader.parts()]


FIELD = (b'Content-Disposition: form-data; name="redirect"\r\n',
         b'https://example.com/done')
FILE = (b'Content-Disposition: form-data; name="file1"; '
        b'filename="a.txt"\r\nContent-Type: text/plain\r\n',
        b'line one\r\nline two\r\n--not-the-boundary\r\n--XyZ12\r\n')


@pytest.mark.parametrize('chunk_size,step,read_size', [
    (16, 7, 5), (1, 1, 1), (65536, 65536, 65536), (4, 3, 100)])
def test_parts_round_trip_however_the_input_is_split(chunk_size, step,
                                                      read_size):
    parts = collect(form(FIELD, FILE), chunk_size, step, read_size)
    assert parts == [
        ({'content-disposition': 'form-data; name="redirect"'}, FIELD[1]),
        ({'content-disposition':
          'form-data; name="file1"; filename="a.txt"',
          'content-type': 'text/plain'}, FILE[1])]


def test_blank_lines_before_the_first_boundary_are_allowed():
    assert len(collect(form(FIELD, lead=b'\r\n\r\n'))) == 1


def test_preamble_before_the_boundary_is_invalid():
    with pytest.raises(MimeInvalid):
        collect(form(FIELD, lead=b'hello\r\n'))


def test_another_boundary_is_invalid():
    with pytest.raises(MimeInvalid):
        collect(form(FIELD, boundary='other'))


def test_empty_input_is_invalid():
    with pytest.raises(MimeInvalid):
        collect(b'')


def test_input_ending_inside_a_part_is_truncated():
    body = form(FIELD, FILE)
    with pytest.raises(FormTruncated):
        collect(body[:len(body) - 40])


def test_input_ending_without_the_closing_boundary_is_truncated():
    with pytest.raises(FormTruncated):
        collect(form(FIELD, close=False))


def test_unread_parts_are_skipped():
    reader = MultipartReader(Trickle(form(FILE, FIELD)), BOUNDARY,
                             chunk_size=8)
    parts = reader.parts()
    next(parts)                                   # file part: not read
    second = next(parts)
    assert second.headers()['content-disposition'].endswith('"redirect"')
    assert read_all(second, 4) == FIELD[1]
    assert list(parts) == []


def test_a_large_part_streams_with_bounded_memory():
    payload = bytes(range(256)) * 4096           # 1 MiB
    reader = MultipartReader(Trickle(form((b'', payload)), step=4096),
                             BOUNDARY, chunk_size=4096)
    largest = 0
    received = 0
    for part in reader.parts():
        part.headers()
        while True:
            data = part.read(4096)
            largest = max(largest, len(reader.buf))
            if not data:
                break
            received += len(data)
    assert received == len(payload)
    assert largest <= 2 * 4096 + len(reader.delimiter) + 2


def test_folded_header_lines_join_and_lines_without_colon_are_ignored():
    headers = (b'Content-Disposition: form-data;\r\n name="x"\r\n'
               b'garbage line\r\nX-Latin: caf\xe9\r\n')
    ((found, body),) = collect(form((headers, b'v')))
    assert found == {'content-disposition': 'form-data; name="x"',
                     'x-latin': 'caf\u00e9'}
    assert body == b'v'


def test_part_headers_over_the_limit_are_refused():
    headers = b''.join(b'X-H%d: %s\r\n' % (i, b'v' * 1000)
                       for i in range(70))
    with pytest.raises(ValueError) as info:
        collect(form((headers, b'v')), chunk_size=65536, step=65536)
    assert 'part headers too long' in str(info.value)


def test_readline_stops_at_the_limit():
    reader = MultipartReader(io.BytesIO(form((b'', b'a' * 50 + b'\n'))),
                             BOUNDARY)
    part = next(reader.parts())
    assert part.headers() == {}
    assert part.readline(limit=10) == b'a' * 10
    assert part.readline() == b'a' * 40 + b'\n'
    assert part.readline() == b''


@pytest.mark.parametrize('value,expected', [
    ('form-data; name="a"; filename="b.txt"',
     ('form-data', {'name': 'a', 'filename': 'b.txt'})),
    ('Form-Data; NAME=plain', ('form-data', {'name': 'plain'})),
    ('form-data; name="semi;colon"; x=1',
     ('form-data', {'name': 'semi;colon', 'x': '1'})),
    ('form-data; name="say \\"hi\\""', ('form-data', {'name': 'say "hi"'})),
    ('form-data; name="first"; name="second"',
     ('form-data', {'name': 'first'})),
    ('form-data; name=""', ('form-data', {'name': ''})),
    ('text/plain', ('text/plain', {})),
    (None, ('', {})),
])
def test_header_parameters(value, expected):
    assert parse_header_params(value) == expected
