"""clamav_answers: the clamav filter's refusals and its verdict headers."""
import sys

from webob import Request, Response

from middleware import clamav_answers as answers


class Recorder(object):
    """A server's start_response: every call, and the body writes."""

    def __init__(self):
        self.calls = []

    def __call__(self, status, headers, exc_info=None):
        self.calls.append((status, list(headers), exc_info))
        return lambda data: None


def stored_object(headers):
    def app(env, start_response):
        return Response(body=b'data', headerlist=headers)(
            env, start_response)
    return app


def verdict_app(inner):
    def app(env, start_response):
        return inner(env, answers.expose_verdict(start_response))
    return app


def test_expose_verdict_shows_sysmeta_under_public_names():
    app = verdict_app(stored_object([
        ('Content-Type', 'text/plain'),
        ('X-Object-Sysmeta-Av-Verdict', 'clean'),
        ('x-object-sysmeta-av-engine', 'ClamAV 1.0.0/27000'),
        ('X-Object-Sysmeta-Av-Scanned-At', '1700000000'),
        ('X-Object-Meta-Color', 'blue')]))
    resp = Request.blank('/v1/a/c/o').get_response(app)
    assert resp.status_int == 200
    assert resp.body == b'data'
    assert resp.headers['X-Object-Av-Verdict'] == 'clean'
    assert resp.headers['X-Object-Av-Engine'] == 'ClamAV 1.0.0/27000'
    assert resp.headers['X-Object-Av-Scanned-At'] == '1700000000'
    # the sysmeta itself is left for gatekeeper to drop
    assert resp.headers['X-Object-Sysmeta-Av-Verdict'] == 'clean'
    assert 'X-Object-Av-Color' not in resp.headers


def test_expose_verdict_leaves_answers_without_verdict_alone():
    recorder = Recorder()
    headers = [('Content-Type', 'text/plain'), ('X-Object-Meta-A', '1')]
    start = answers.expose_verdict(recorder)
    start('200 OK', headers)
    assert recorder.calls == [('200 OK', headers, None)]


def test_expose_verdict_passes_exc_info_on():
    recorder = Recorder()
    start = answers.expose_verdict(recorder)
    try:
        raise RuntimeError('segment failed')
    except RuntimeError:
        info = sys.exc_info()
    start('500 Internal Error', [('X-Object-Sysmeta-Av-Verdict', 'clean')],
          info)
    status, headers, exc_info = recorder.calls[0]
    assert exc_info is info
    assert ('X-Object-Av-Verdict', 'clean') in headers


def refusing_app(refusal, *args, **kwargs):
    def app(env, start_response):
        return refusal(start_response, *args, **kwargs)
    return app


def test_forbidden_names_the_signature_and_what_matched():
    resp = Request.blank('/v1/a/c/o', method='PUT').get_response(
        refusing_app(answers.forbidden, 'Eicar-Test-Signature'))
    assert resp.status == '403 Forbidden'
    assert resp.content_type == 'text/plain'
    assert resp.charset.upper() == 'UTF-8'
    assert resp.body == (b'Forbidden: the upload matches the virus '
                         b'signature Eicar-Test-Signature\n')
    assert resp.content_length == len(resp.body)


def test_forbidden_for_a_stored_object_and_non_ascii_signature():
    resp = Request.blank('/v1/a/c/o').get_response(refusing_app(
        answers.forbidden, 'Sig.\u00e9', what='object'))
    assert resp.status_int == 403
    assert resp.body.decode('utf-8') == (
        'Forbidden: the object matches the virus signature Sig.\u00e9\n')


def test_unavailable_scanner_and_failed_scan_are_503_with_reasons():
    down = Request.blank('/v1/a/c/o', method='PUT').get_response(
        refusing_app(answers.unavailable))
    assert down.status == '503 Service Unavailable'
    assert down.body == (b'Service Unavailable: the virus scanner is '
                         b'unavailable, retry later\n')
    failed = Request.blank('/v1/a/c/o', method='PUT').get_response(
        refusing_app(answers.unavailable, scan_failed=True))
    assert failed.status_int == 503
    assert failed.body == (b'Service Unavailable: the virus scan could not '
                           b'be completed, retry later\n')


def test_respond_with_exc_info_replaces_a_started_response():
    recorder = Recorder()
    recorder('200 OK', [('Content-Length', '100')])
    try:
        raise IOError('scan broke mid-body')
    except IOError:
        info = sys.exc_info()
    body = answers._respond(recorder, '503 Service Unavailable',
                            b'try later\n', exc_info=info)
    status, headers, exc_info = recorder.calls[-1]
    assert status == '503 Service Unavailable'
    assert exc_info is info
    assert dict(headers)['Content-Type'] == 'text/plain; charset=UTF-8'
    assert dict(headers)['Content-Length'] == '10'
    assert b''.join(body) == b'try later\n'


def test_respond_takes_a_code_and_extra_headers():
    recorder = Recorder()
    body = answers._respond(recorder, 413, b'too big\n',
                            headers=[('X-Extra', 'yes')])
    status, headers, _ = recorder.calls[0]
    assert status.startswith('413 ')
    assert ('X-Extra', 'yes') in headers
    assert b''.join(body) == b'too big\n'
