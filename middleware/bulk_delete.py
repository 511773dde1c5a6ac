"""Bulk delete: the ``?bulk-delete`` half of the bulk filter.

The body lists URL-encoded ``/container/object`` and ``/container`` paths,
one a line, relative to the account of the request's path.  Each becomes a
``DELETE`` subrequest down the rest of the pipeline carrying the client's
token, so auth judges every one of them.  Objects go first and containers
after, so ``/c/o`` and ``/c`` in one body empty and then remove ``c``; a
container still holding objects fails with ``409 Conflict`` (retried
``delete_container_retry_count`` times, as Swift).  Up to
``delete_concurrency`` deletes run at once; after ``max_failed_deletes``
failures the in-flight ones are finished and the rest is abandoned
(``400 Max delete failures exceeded``).

The list is read whole before the first delete (as Swift: a too-long list
is refused with 413 before anything is deleted); its size is bounded by
``max_deletes_per_request`` names of at most a container plus an object
name each.
"""
import collections
from urllib.parse import quote, unquote_to_bytes

import eventlet

from middleware.bulk_answers import BulkError, Heartbeat, body_reader, \
    result_body, status_text
from middleware.large_objects import call_app, make_subrequest_env
from objproxy.common.constraints import LIMITS
from objproxy.common.paths import PathError, split_path
from objproxy.common.response import is_success


def max_path_length():
    return (LIMITS['max_object_name_length'] +
            LIMITS['max_container_name_length'] + 2)


def read_names(env, max_deletes):
    """The names (bytes, unquoted) listed in the request body."""
    read = body_reader(env)
    chunk_size = max_path_length()
    names = []
    line = b''
    while True:
        data = read(chunk_size)
        if data:
            line += data
        lines = line.split(b'\n')
        line = lines.pop() if data else b''
        for entry in lines:
            entry = entry.strip()
            if entry:
                names.append(unquote_to_bytes(entry))
        if len(names) > max_deletes:
            raise BulkError(413, 'Maximum Bulk Deletes: %d per request'
                            % max_deletes)
        if len(line) > chunk_size * 2:
            raise BulkError(400, 'Invalid File Name')
        if not data:
            return names


def valid_utf8(name):
    try:
        text = name.decode('utf-8')
    except UnicodeDecodeError:
        return False
    return '\x00' not in text


def delete_iter(bulk, req, out_format):
    """The bulk delete answer body: heartbeats, then the results."""
    env = req.environ
    results = {'Response Status': status_text(200), 'Response Body': '',
               'Number Deleted': 0, 'Number Not Found': 0}
    errors = []
    beat = Heartbeat(bulk.yield_frequency, out_format, bulk.clock)
    try:
        if not out_format:
            raise BulkError(406, 'Not Acceptable')
        try:
            version, account, _rest = split_path(env['PATH_INFO'], 2, 3,
                                                  True)
        except (PathError, ValueError):
            raise BulkError(404, 'Not Found')
        incoming = env.get('CONTENT_TYPE')
        if incoming and not incoming.startswith('text/plain'):
            raise BulkError(406, 'Not Acceptable')
        names = read_names(env, bulk.max_deletes_per_request)
        for chunk in Deleter(bulk, env, version, account, results,
                             errors, beat).run(names):
            yield chunk
        if errors:
            results['Response Status'] = status_text(
                502 if any(s.startswith('5') for _n, s in errors) else 400)
        elif not (results['Number Deleted'] or results['Number Not Found']):
            results['Response Status'] = status_text(400)
            results['Response Body'] = 'Invalid bulk delete.'
    except BulkError as err:
        results['Response Status'] = status_text(err.status)
        results['Response Body'] = err.body
    except Exception:
        bulk.logger.exception('Error in bulk delete.')
        results['Response Status'] = status_text(500)
    yield beat.separator + result_body(out_format, results, errors,
                                       'delete')


class Deleter(object):
    """Runs the deletes, a bounded number at a time, in list order."""

    def __init__(self, bulk, env, version, account, results, errors, beat):
        self.bulk = bulk
        self.env = env
        self.prefix = '/%s/%s/' % (version, account)
        self.results = results
        self.errors = errors
        self.beat = beat

    def run(self, names):
        """Generator of heartbeats; fills ``results`` and ``errors``."""
        objects = [n for n in names if b'/' in n.strip(b'/')]
        containers = [n for n in names if n.strip(b'/') and
                      b'/' not in n.strip(b'/')]
        pool = eventlet.GreenPool(self.bulk.delete_concurrency)
        running = collections.deque()
        try:
            for name in objects + containers:
                if not valid_utf8(name):
                    self.errors.append([quote(name, safe='/'),
                                        status_text(412)])
                else:
                    running.append((name, pool.spawn(self.delete, name)))
                # settle the oldest when the pool is full or it is done
                while running and (len(running) >=
                                   self.bulk.delete_concurrency or
                                   running[0][1].dead):
                    for chunk in self.settle(running.popleft()):
                        yield chunk
                if len(self.errors) >= self.bulk.max_failed_deletes:
                    break
            while running:
                for chunk in self.settle(running.popleft()):
                    yield chunk
        finally:
            for _name, thread in running:
                thread.kill()
        if len(self.errors) >= self.bulk.max_failed_deletes:
            raise BulkError(400, 'Max delete failures exceeded')

    def settle(self, entry):
        name, thread = entry
        status_line = thread.wait()
        status = int(status_line.split(' ', 1)[0])
        due = self.beat.due()
        if due is not None:
            yield due
        if is_success(status):
            self.results['Number Deleted'] += 1
        elif status == 404:
            self.results['Number Not Found'] += 1
        else:
            self.errors.append([quote(name, safe='/'), status_line])

    def delete(self, name):
        """DELETE one name as the client; its status line."""
        path = self.prefix + name.lstrip(b'/').decode('latin-1')
        retries = 0
        while True:
            sub_env = make_subrequest_env(self.env, 'DELETE', path,
                                          source='BD')
            sub_env['HTTP_USER_AGENT'] = '%s BulkDelete' % self.env.get(
                'HTTP_USER_AGENT', '')
            resp = call_app(self.bulk.app, sub_env)
            resp.drain()
            if resp.status_int != 409 or \
                    retries >= self.bulk.delete_container_retry_count:
                return resp.status
            retries += 1
            eventlet.sleep(self.bulk.retry_interval ** retries)
