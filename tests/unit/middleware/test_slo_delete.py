"""slo_delete: ManifestDeleter against test_dlo's FakeSwift, and the bulk
answer body it shares with the manifest upload."""
import json
from xml.dom import minidom

import pytest
from webob import Request

from middleware.large_objects import MAX_NESTING, object_path
from middleware.slo_delete import ManifestDeleter, results_body
from tests.unit.middleware.test_dlo import FakeSwift


def entry(name, sub_slo=False):
    item = {'name': name, 'bytes': 1, 'hash': 'h', 'content_type': 'x'}
    if sub_slo:
        item['sub_slo'] = True
    return item


def put_manifest(swift, path, entries):
    swift.put(path, json.dumps(entries).encode(),
              x_static_large_object='True')


def delete(swift, path='/v1/a/c/big', query='multipart-manifest=delete',
           concurrency=2, **headers):
    headers.setdefault('Accept', 'application/json')
    deleter = ManifestDeleter(swift, concurrency, 1 << 20)

    def app(env, start_response):
        return deleter(env, start_response, object_path(env))
    req = Request.blank(path + '?' + query, method='DELETE', headers=headers)
    resp = req.get_response(app)
    assert resp.status_int == 200
    return resp


def result_of(resp):
    assert resp.content_type == 'application/json'
    return json.loads(resp.body)


def deleted(swift):
    return [c[1] for c in swift.methods('DELETE')]


# ----------------------------------------------------------- results_body

RESULTS = {'Number Deleted': 2, 'Response Status': '400 Bad Request'}
ERRORS = [('/c/a&b', '403 Forbidden')]


def test_results_body_as_json():
    ctype, body = results_body('application/json', RESULTS, ERRORS)
    assert ctype == 'application/json; charset=utf-8'
    assert json.loads(body) == dict(RESULTS, Errors=[['/c/a&b',
                                                      '403 Forbidden']])


def test_results_body_as_xml_with_and_without_declaration():
    ctype, body = results_body('text/xml', RESULTS, ERRORS, kind='upload')
    assert ctype == 'application/xml; charset=utf-8'
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    doc = minidom.parseString(body)
    root = doc.documentElement
    assert root.tagName == 'upload'
    assert root.getElementsByTagName('number_deleted')[0] \
        .firstChild.data == '2'
    assert root.getElementsByTagName('name')[0].firstChild.data == '/c/a&b'
    _, bare = results_body('application/xml', RESULTS, ERRORS,
                           declaration=False)
    assert bare.startswith(b'<delete>')


def test_results_body_as_plain_text_by_default():
    ctype, body = results_body(None, RESULTS, ERRORS)
    assert ctype == 'text/plain; charset=utf-8'
    assert body.decode().splitlines() == [
        'Number Deleted: 2', 'Response Status: 400 Bad Request', 'Errors:',
        '/c/a&b, 403 Forbidden']


# ------------------------------------------------------------- deleting

def test_segments_then_the_manifest_are_deleted():
    swift = FakeSwift()
    swift.put('/v1/a/s/1', b'1')
    swift.put('/v1/a/s/2', b'2')
    put_manifest(swift, '/v1/a/c/big',
                 [entry('/s/1'), entry('s/2'), entry('/s/gone')])
    result = result_of(delete(swift))
    assert result['Response Status'] == '200 OK'
    assert result['Number Deleted'] == 3
    assert result['Number Not Found'] == 1
    assert result['Errors'] == []
    assert deleted(swift)[-1] == '/v1/a/c/big'
    assert sorted(deleted(swift)[:-1]) == [
        '/v1/a/s/1', '/v1/a/s/2', '/v1/a/s/gone']
    assert swift.objects == {}


def test_the_manifest_is_read_raw_and_every_call_is_made_as_the_client():
    swift = FakeSwift()
    swift.put('/v1/a/s/1', b'1')
    put_manifest(swift, '/v1/a/c/big', [entry('/s/1')])
    delete(swift, **{'X-Auth-Token': 'AUTH_tk'})
    get = swift.methods('GET')[0]
    assert get[2] == 'multipart-manifest=get'
    assert all(c[3]['HTTP_X_AUTH_TOKEN'] == 'AUTH_tk' and
               c[3]['swift.source'] == 'SLO' for c in swift.calls)


def test_nested_manifests_go_deepest_first_after_all_segments():
    swift = FakeSwift()
    for name in ('a', 'b', 'c'):
        swift.put('/v1/a/s/' + name, b'x')
    put_manifest(swift, '/v1/a/s/inner', [entry('/s/b'), entry('/s/c')])
    put_manifest(swift, '/v1/a/c/big', [entry('/s/a'),
                                        entry('/s/inner', sub_slo=True)])
    result = result_of(delete(swift))
    assert result['Number Deleted'] == 5
    order = deleted(swift)
    assert order[-2:] == ['/v1/a/s/inner', '/v1/a/c/big']
    assert sorted(order[:3]) == ['/v1/a/s/a', '/v1/a/s/b', '/v1/a/s/c']


def test_missing_manifest_counts_as_not_found():
    swift = FakeSwift()
    result = result_of(delete(swift))
    assert result['Response Status'] == '200 OK'
    assert result['Number Not Found'] == 1
    assert result['Number Deleted'] == 0
    assert deleted(swift) == []


def test_a_plain_object_is_not_deleted():
    swift = FakeSwift()
    swift.put('/v1/a/c/big', b'plain')
    result = result_of(delete(swift))
    assert result['Response Status'] == '400 Bad Request'
    assert result['Errors'] == [['/c/big', 'Not an SLO manifest']]
    assert deleted(swift) == []


def test_a_corrupt_manifest_is_not_deleted():
    swift = FakeSwift()
    swift.put('/v1/a/c/big', b'[{not json', x_static_large_object='True')
    result = result_of(delete(swift))
    assert result['Errors'] == [['/c/big', 'Unable to load SLO manifest']]
    assert deleted(swift) == []


def test_unreadable_manifest_reports_its_status():
    swift = FakeSwift()
    put_manifest(swift, '/v1/a/c/big', [entry('/s/1')])
    swift.fail_before_headers['/v1/a/c/big'] = [403]
    result = result_of(delete(swift))
    assert result['Errors'] == [['/c/big', '403 Forbidden']]
    assert deleted(swift) == []


def test_missing_nested_manifest_stops_everything():
    swift = FakeSwift()
    swift.put('/v1/a/s/a', b'x')
    put_manifest(swift, '/v1/a/c/big', [entry('/s/a'),
                                        entry('/s/inner', sub_slo=True)])
    result = result_of(delete(swift))
    assert result['Errors'] == [['/s/inner', '404 Not Found']]
    assert deleted(swift) == []


def test_segment_that_cannot_be_deleted_is_reported():
    swift = FakeSwift()
    swift.put('/v1/a/s/a', b'x')
    put_manifest(swift, '/v1/a/c/big', [entry('/s/a')])
    swift.fail_before_headers['/v1/a/s/a'] = [403]
    result = result_of(delete(swift))
    assert result['Response Status'] == '400 Bad Request'
    assert result['Errors'] == [['/s/a', '403 Forbidden']]
    assert result['Number Deleted'] == 1    # the manifest itself


def test_self_nesting_stops_at_max_nesting():
    swift = FakeSwift()
    put_manifest(swift, '/v1/a/c/big', [entry('/c/big', sub_slo=True)])
    result = result_of(delete(swift))
    assert result['Errors'] == [['/c/big', 'Max recursion depth exceeded']]
    assert len(swift.methods('GET')) == MAX_NESTING + 1
    assert deleted(swift) == []


def test_version_id_stays_on_the_clients_manifest_only():
    swift = FakeSwift()
    swift.put('/v1/a/s/a', b'x')
    put_manifest(swift, '/v1/a/c/big', [entry('/s/a')])
    delete(swift, query='multipart-manifest=delete&version-id=1.5')
    queries = dict((c[1], c[2]) for c in swift.methods('DELETE'))
    assert queries == {'/v1/a/s/a': '', '/v1/a/c/big': 'version-id=1.5'}
    assert swift.methods('GET')[0][2] == \
        'multipart-manifest=get&version-id=1.5'


def test_non_ascii_names_are_quoted_in_errors():
    swift = FakeSwift()
    put_manifest(swift, '/v1/a/c/big', [entry('/s/caf\u00e9')])
    swift.fail_before_headers['/v1/a/s/caf\u00c3\u00a9'] = [409]
    result = result_of(delete(swift))
    assert result['Errors'] == [['/s/caf%C3%A9', '409 Conflict']]


@pytest.mark.parametrize('accept, ctype, line', [
    ('text/plain', 'text/plain', b'Number Not Found: 1'),
    ('application/xml', 'application/xml',
     b'<number_not_found>1</number_not_found>')])
def test_answer_follows_accept(accept, ctype, line):
    resp = delete(FakeSwift(), Accept=accept)
    assert resp.content_type == ctype
    assert line in resp.body
