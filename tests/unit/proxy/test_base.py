from objproxy.proxy.controllers.base import (
    NodeAnswer, best_response, client_headers, quorum_size)


def answer(status, **headers):
    return NodeAnswer({}, status, headers, b'')


def test_quorum_size():
    assert [quorum_size(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]


def test_best_status_of_the_quorum_class():
    resp = best_response([answer(201), answer(202), answer(503)], 2)
    assert resp.status == 202
    resp = best_response([answer(201), None, None], 2)
    assert resp.status == 503
    resp = best_response([answer(404), answer(404), answer(201)], 2)
    assert resp.status == 404
    resp = best_response([answer(409), answer(404), answer(201)], 2)
    assert resp.status == 409


def test_missing_answers_count_as_failures():
    assert best_response([answer(204), None, answer(204)], 2).status == 204
    assert best_response([None, None, None], 2).status == 503
    assert best_response([], 2).status == 503


def test_error_pages_get_a_body_and_no_backend_headers():
    resp = best_response([NodeAnswer({}, 404, {
        'x-backend-timestamp': '1', 'content-length': '0'}, b'')] * 3, 2)
    assert resp.status == 404
    assert b'Not Found' in resp.body
    assert resp.get_header('x-backend-timestamp') is None


def test_client_headers_drop_backend_and_hop_by_hop():
    out = dict(client_headers({
        'x-backend-timestamp': '1', 'connection': 'keep-alive',
        'transfer-encoding': 'chunked', 'x-object-meta-color': 'red',
        'etag': 'abc'}))
    assert out == {'X-Object-Meta-Color': 'red', 'Etag': 'abc'}
