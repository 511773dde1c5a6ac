"""What bulk delete and extract share: reading the body, the errors that
end them, the final report in each format, and the heartbeat."""
import io
import json
from xml.etree import ElementTree

import pytest

from middleware.bulk_answers import (
    BulkError, Heartbeat, LimitedInput, body_reader, result_body,
    status_text)


def env_with(body, length=None, chunked=False):
    env = {'wsgi.input': io.BytesIO(body)}
    if length is not None:
        env['CONTENT_LENGTH'] = length
    if chunked:
        env['HTTP_TRANSFER_ENCODING'] = 'Chunked'
    return env


# -- errors and status lines --------------------------------------------------
def test_bulk_error_message_defaults_to_the_status_line():
    err = BulkError(413)
    assert (err.status, err.body, str(err)) == (
        413, '', '413 Request Entity Too Large')
    assert str(BulkError(400, 'Invalid Content-Length')) == \
        'Invalid Content-Length'


def test_status_text_knows_bulk_statuses_and_falls_back_for_others():
    assert status_text(500) == '500 Internal Error'    # Swift's wording
    assert status_text(201) == '201 Created'
    assert status_text(503).startswith('503 ')
    assert status_text(409) == '409 Conflict'


# -- reading the body ---------------------------------------------------------
def test_reader_stops_at_content_length():
    read = body_reader(env_with(b'abcdefgh-not-part-of-it', length='8'))
    assert read(5) == b'abcde'
    assert read(100) == b'fgh'
    assert read(1) == b''


def test_reader_without_a_size_reads_up_to_content_length():
    read = body_reader(env_with(b'abcdefgh', length='3'))
    assert read() == b'abc' and read() == b''


def test_chunked_body_is_read_to_its_end():
    read = body_reader(env_with(b'abc', chunked=True))
    assert read(2) == b'ab' and read(10) == b'c' and read(10) == b''


def test_body_with_neither_length_nor_chunking_is_411():
    with pytest.raises(BulkError) as info:
        body_reader(env_with(b'abc'))
    assert info.value.status == 411


@pytest.mark.parametrize('length', ['ten', '-1', '1.5'])
def test_bad_content_length_is_400(length):
    with pytest.raises(BulkError) as info:
        body_reader(env_with(b'abc', length=length))
    assert (info.value.status, info.value.body) == (
        400, 'Invalid Content-Length')


def test_limited_input_with_zero_length_reads_nothing():
    stream = io.BytesIO(b'abc')
    assert LimitedInput({'wsgi.input': stream,
                         'CONTENT_LENGTH': '0'}).read() == b''
    assert stream.tell() == 0


# -- the final report ---------------------------------------------------------
RESULTS = {'Number Deleted': 2, 'Number Not Found': 1,
           'Response Status': '400 Bad Request', 'Response Body': 'a<b&c'}
ERRORS = [['/c/o&1', '412 Precondition Failed'],
          ['/c/<x>', '401 Unauthorized']]


def test_json_report_holds_results_and_errors():
    body = json.loads(result_body('application/json', RESULTS, ERRORS,
                                  'delete'))
    assert body == dict(RESULTS, Errors=ERRORS)


@pytest.mark.parametrize('fmt', ['application/xml', 'text/xml'])
def test_xml_report_is_well_formed_with_odd_names(fmt):
    root = ElementTree.fromstring(result_body(fmt, RESULTS, ERRORS,
                                              'delete'))
    assert root.tag == 'delete'
    assert root.find('number_deleted').text == '2'
    assert root.find('response_body').text == 'a<b&c'
    assert [(o.find('name').text, o.find('status').text)
            for o in root.find('errors')] == [tuple(e) for e in ERRORS]


def test_plain_report_lists_results_sorted_then_errors():
    body = result_body('text/plain', {'B': 1, 'A': 2}, [['/c/o', '404 Not '
                                                         'Found']], 'x')
    assert body == b'A: 2\nB: 1\nErrors:\n/c/o, 404 Not Found\n'


def test_no_negotiated_format_is_plain_text():
    assert result_body(None, {'A': 1}, [], 'x') == b'A: 1\nErrors:\n'


# -- heartbeat ----------------------------------------------------------------
class Clock(object):
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_heartbeat_is_due_only_after_the_frequency_passed():
    clock = Clock()
    beat = Heartbeat(10, 'text/plain', clock)
    clock.now += 10
    assert beat.due() is None
    clock.now += 0.5
    assert beat.due() == b' '
    clock.now += 5
    assert beat.due() is None


def test_first_xml_beat_is_the_declaration_then_spaces():
    clock = Clock()
    beat = Heartbeat(1, 'application/xml', clock)
    assert beat.separator == b''
    clock.now += 2
    assert beat.due() == b'<?xml version="1.0" encoding="UTF-8"?>\n'
    assert beat.separator == b'\r\n\r\n'
    clock.now += 2
    assert beat.due() == b' '


def test_separator_stays_empty_when_no_beat_was_sent():
    beat = Heartbeat(60, 'application/json', Clock())
    assert beat.due() is None and beat.separator == b''
