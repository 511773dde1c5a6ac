"""The clamav filter's own answers to clients, and the verdict it shows.

Why its own module: the PUT, manifest and read paths all refuse with the
same plain-text bodies (built by objproxy.common.response, the one way
objproxy answers), and all reads show the stored verdict sysmeta under
its public ``X-Object-Av-*`` names.
"""
from middleware.clamav_verdict import PUBLIC_PREFIX, SYSMETA_PREFIX
from objproxy.common.response import plain_error, status_code, status_line


def expose_verdict(start_response):
    """A start_response that adds ``X-Object-Av-*`` for the stored verdict
    (gatekeeper, further left, drops the sysmeta itself)."""
    def start(status, headers, exc_info=None):
        extra = [(PUBLIC_PREFIX + name[len(SYSMETA_PREFIX):].title(), value)
                 for name, value in headers
                 if name.lower().startswith(SYSMETA_PREFIX)]
        if extra:
            headers = list(headers) + extra
        if exc_info is not None:
            return start_response(status, headers, exc_info)
        return start_response(status, headers)
    return start


def _respond(start_response, status, body, headers=None, exc_info=None):
    """A plain-text answer through objproxy.common.response; ``status`` is
    a status line or code.  ``exc_info`` replaces a response the app had
    already started (WSGI), which Response itself never does."""
    resp = plain_error(status_code(str(status)), body, headers)
    if exc_info is not None:
        start_response(status_line(resp.status), resp.headers, exc_info)
        return resp.app_iter
    return resp({}, start_response)


def forbidden(start_response, signature, what='upload'):
    """403 naming the signature (infected upload, manifest or object)."""
    return _respond(start_response, 403, (
        'Forbidden: the %s matches the virus signature %s\n'
        % (what, signature)).encode('utf-8'))


def unavailable(start_response, scan_failed=False):
    """503: clamd could not be reached, or a started scan failed."""
    return _respond(start_response, 503, (
        b'Service Unavailable: the virus scan could not be completed, '
        b'retry later\n' if scan_failed else
        b'Service Unavailable: the virus scanner is unavailable, retry '
        b'later\n'))
