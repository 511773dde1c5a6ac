"""catch_errors: transaction ids, and no traceback ever reaches a client.

It is the leftmost filter, so everything to its right runs inside it.  It

* gives every request a transaction id the way Swift does
  (``tx`` + 21 hex chars + ``-`` + hex unix time + ``trans_id_suffix``,
  plus ``-<X-Trans-Id-Extra>`` (at most 32 chars) when the client sends
  one), stores it in ``env['swift.trans_id']`` and drops any
  ``X-Trans-Id`` the client tried to pass in;
* stamps ``X-Trans-Id`` and ``X-Openstack-Request-Id`` on every response;
* turns an unhandled exception - from the call or while producing the
  first body chunk - into ``500 Internal Error`` (Swift's phrase) that
  carries the transaction id but no traceback (the traceback goes to the log);
* if the error happens after the headers have gone out, logs it and
  re-raises so the server drops the connection instead of ending a
  truncated body as if it were complete.

Config::

    [filter:catch_errors]
    use = egg:objproxy#catch_errors
    # trans_id_suffix =          (may also be set in [DEFAULT])
"""
import time
import uuid
from urllib.parse import quote

from objproxy.common.config import check_options
from objproxy.common.logs import get_logger
from objproxy.common.registry import register_info
from objproxy.common.response import Response

ERROR_BODY = b'An error occurred'
EXTRA_MAX = 32


def generate_trans_id(suffix=''):
    return 'tx%s-%010x%s' % (uuid.uuid4().hex[:21], int(time.time()),
                             quote(suffix, safe=''))


class CatchErrorsMiddleware(object):
    """Wraps the pipeline; see the module docstring."""

    def __init__(self, app, conf):
        self.app = app
        self.trans_id_suffix = conf.get('trans_id_suffix', '')
        self.logger = get_logger(conf, 'proxy-server',
                                 log_route='catch-errors')

    def __call__(self, env, start_response):
        env.pop('HTTP_X_TRANS_ID', None)
        trans_id = env.get('swift.trans_id')
        if not trans_id:
            suffix = self.trans_id_suffix
            extra = env.get('HTTP_X_TRANS_ID_EXTRA')
            if extra:
                suffix += '-' + extra[:EXTRA_MAX]
            trans_id = env['swift.trans_id'] = generate_trans_id(suffix)
        stamp = [('X-Trans-Id', trans_id),
                 ('X-Openstack-Request-Id', trans_id)]
        captured = []

        def capture(status, headers, exc_info=None):
            headers = [(k, v) for k, v in headers
                       if k.lower() not in ('x-trans-id',
                                            'x-openstack-request-id')]
            captured[:] = [status, headers + stamp, exc_info]
            return _unused_write

        body = None
        try:
            body = self.app(env, capture)
            chunks = iter(body)
            first = b''
            for first in chunks:
                if first:
                    break
        except Exception:
            _close(body)
            return self.handle_error(env, start_response, trans_id)
        if not captured:
            self.logger.error('app returned without calling '
                              'start_response (txn: %s)', trans_id)
            _close(body)
            return self.handle_error(env, start_response, trans_id,
                                     log=False)
        start_response(*captured)
        return self._stream(first, chunks, body, env, trans_id)

    def _stream(self, first, chunks, body, env, trans_id):
        try:
            if first:
                yield first
            for chunk in chunks:
                yield chunk
        except Exception:
            # (GeneratorExit, a client that went away, is no Exception)
            self.logger.exception(
                'Error while sending the body of %s %s (txn: %s); '
                'closing the connection', env.get('REQUEST_METHOD'),
                quote(env.get('PATH_INFO', '')), trans_id)
            raise
        finally:
            _close(body)

    def handle_error(self, env, start_response, trans_id, log=True):
        if log:
            self.logger.exception('Error: An error occurred: %s %s (txn: %s)',
                                  env.get('REQUEST_METHOD'),
                                  quote(env.get('PATH_INFO', '')), trans_id)
        return Response(500, body=ERROR_BODY, headers=[
            ('Content-Type', 'text/plain'),
            ('X-Trans-Id', trans_id),
            ('X-Openstack-Request-Id', trans_id)])(env, start_response)


def _unused_write(data):
    raise RuntimeError('the write() callable is not supported')


def _close(body):
    close = getattr(body, 'close', None)
    if close is not None:
        try:
            close()
        except Exception:
            pass


def filter_factory(global_conf, **local_conf):
    conf = dict(global_conf or {}, **local_conf)
    check_options('filter:catch_errors', local_conf, global_conf, ())
    register_info('catch_errors')

    def factory(app):
        return CatchErrorsMiddleware(app, conf)
    return factory
