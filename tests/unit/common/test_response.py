"""objproxy.common.response: the one way answers are built."""
import pytest
from webob import Request

from objproxy.common.response import (
    Response, error_response, is_client_error, is_informational,
    is_redirection, is_server_error, is_success, plain_error, reason,
    status_code, status_line)


@pytest.mark.parametrize('status,line', [
    (200, '200 OK'), (201, '201 Created'), (204, '204 No Content'),
    (416, '416 Requested Range Not Satisfiable'),
    (422, '422 Unprocessable Entity'), (497, '497 Blacklisted'),
    (498, '498 Rate Limited'), (499, '499 Client Disconnect'),
    (507, '507 Insufficient Storage'), (599, '599 Unknown')])
def test_status_lines_use_swifts_phrases(status, line):
    assert status_line(status) == line
    assert reason(status) == line.split(' ', 1)[1]


def test_status_classes():
    assert [f(150) for f in (is_informational, is_success)] == [True, False]
    assert is_success(200) and is_success(299) and not is_success(300)
    assert is_redirection(304) and not is_redirection(400)
    assert is_client_error(404) and not is_client_error(500)
    assert is_server_error(503) and not is_server_error(499)


def call(resp, method='GET'):
    got = Request.blank('/', method=method).get_response(resp)
    return got.status, dict(got.headers), got.body


def test_body_gets_its_length_and_type():
    status, headers, body = call(Response(
        201, headers=[('Content-Length', '99'), ('X-A', 'b')], body='hé',
        content_type='text/plain; charset=UTF-8'))
    assert status == '201 Created'
    assert headers['Content-Length'] == '3'
    assert headers['Content-Type'] == 'text/plain; charset=UTF-8'
    assert headers['X-A'] == 'b'
    assert body == 'hé'.encode('utf-8')


def test_empty_body_has_no_type_unless_given_as_a_header():
    _s, headers, _b = call(Response(204, content_type='text/plain'))
    assert 'Content-Type' not in headers
    assert headers['Content-Length'] == '0'
    _s, headers, _b = call(Response(200, body=b'', headers=[
        ('Content-Type', 'text/plain')]))
    assert headers['Content-Type'] == 'text/plain'


def test_streamed_body_is_not_buffered_and_head_closes_it():
    closed = []

    class Body(object):
        def __iter__(self):
            yield b'a'
            yield b'b'

        def close(self):
            closed.append(True)
    resp = Response(200, headers=[('Content-Length', '2')], app_iter=Body())
    assert resp.get_header('content-length') == '2'
    out = resp({'REQUEST_METHOD': 'HEAD'}, lambda s, h: None)
    assert out == [] and closed == [True]


def test_headers_are_case_insensitive_and_replaced():
    resp = Response(200, headers={'X-Thing': '1'})
    resp.set_header('x-thing', 2)
    assert resp.headers == [('Content-Length', '0'), ('x-thing', '2')]
    resp.del_header('X-THING')
    assert resp.get_header('x-thing') is None
    assert resp.status_int == 200


def test_error_pages():
    status, headers, body = call(error_response(404))
    assert status == '404 Not Found'
    assert headers['Content-Type'] == 'text/html; charset=UTF-8'
    assert body == (b'<html><h1>Not Found</h1><p>The resource could not '
                    b'be found.</p></html>')
    status, headers, body = call(plain_error(412, 'no'))
    assert (status, body) == ('412 Precondition Failed', b'no')
    assert headers['Content-Type'] == 'text/plain; charset=UTF-8'


def test_status_code_reads_the_number_of_a_status_line():
    assert status_code('204 No Content') == 204
    assert status_code(status_line(499)) == 499
    assert status_code('599') == 599


def test_status_lines_use_swifts_phrases_whatever_the_python():
    assert status_line(500) == '500 Internal Error'
    assert status_line(413) == '413 Request Entity Too Large'
    assert status_line(416) == '416 Requested Range Not Satisfiable'
    assert status_line(201) == '201 Created'
