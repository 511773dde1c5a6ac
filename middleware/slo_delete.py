"""``DELETE ?multipart-manifest=delete``: an SLO and all its segments.

Why a module of its own: deleting a manifest is a bulk operation with its
own walk (nested manifests, deepest first, after their segments) and its
own answer, Swift's bulk-delete body (``Number Deleted``, ``Number Not
Found``, ``Errors``) in JSON, XML or plain text, which the manifest upload
also uses to report bad segments.
"""
import json
from urllib.parse import quote
from xml.sax.saxutils import escape

from eventlet import GreenPool

from objproxy.common.paths import str_to_wsgi
from objproxy.common.response import is_success, status_line
from middleware.large_objects import (
    MAX_NESTING, SegmentError, call_app, is_slo, make_subrequest_env,
    manifest_query, respond, version_query)


def results_body(accept, results, errors, kind='delete', declaration=True):
    """Swift's bulk-operation response body; (content type, bytes).

    ``declaration``: whether XML starts with one (a heartbeat answer, sent
    after whitespace, does not)."""
    accept = (accept or '').lower()
    if 'application/json' in accept:
        doc = dict(results, Errors=[list(e) for e in errors])
        return 'application/json; charset=utf-8', json.dumps(doc).encode()
    if 'xml' in accept:
        tag = kind
        out = ['<?xml version="1.0" encoding="UTF-8"?>\n' if declaration
               else '']
        out.append('<%s>' % tag)
        for key in sorted(results):
            name = key.lower().replace(' ', '_')
            out.append('<%s>%s</%s>' % (name, escape(str(results[key])),
                                        name))
        out.append('<errors>')
        for path, status in errors:
            out.append('<object><name>%s</name><status>%s</status>'
                       '</object>' % (escape(path), escape(status)))
        out.append('</errors></%s>\n' % tag)
        return 'application/xml; charset=utf-8', ''.join(out).encode()
    lines = ['%s: %s' % (key, results[key]) for key in sorted(results)]
    lines.append('Errors:')
    lines += ['%s, %s' % (path, status) for path, status in errors]
    return 'text/plain; charset=utf-8', ('\n'.join(lines) + '\n').encode()


class _NotFound(Exception):
    pass


class ManifestDeleter(object):
    """Deletes a manifest's segments (``concurrency`` at a time), then the
    manifests themselves, as the client: every DELETE is a subrequest."""

    def __init__(self, app, concurrency, read_limit):
        self.app = app
        self.concurrency = concurrency
        self.read_limit = read_limit

    def __call__(self, env, start_response, parts):
        version, account = parts[0], parts[1]
        accept = env.get('HTTP_ACCEPT')
        name = '/%s/%s' % (parts[2], parts[3])
        results = {'Number Deleted': 0, 'Number Not Found': 0,
                   'Response Body': '',
                   'Response Status': status_line(200)}
        errors = []
        targets = []
        try:
            self._collect_deletes(env, version, account, env['PATH_INFO'],
                                  name, targets, errors, 0)
        except _NotFound:
            results['Number Not Found'] = 1
        if not errors:
            pool = GreenPool(self.concurrency)
            segs, manifests = targets
            for outcome in pool.imap(
                    lambda t: self._delete_one(env, version, account, t),
                    segs):
                self._tally(outcome, results, errors)
            for target in manifests:
                # the client's own manifest keeps its ?version-id=
                query = version_query(env, env['PATH_INFO']) \
                    if target == name else ''
                self._tally(self._delete_one(env, version, account, target,
                                             query), results, errors)
        if errors:
            results['Response Status'] = status_line(400)
        ctype, body = results_body(accept, results, errors)
        return respond(start_response, 200, body, content_type=ctype)

    @staticmethod
    def _tally(outcome, results, errors):
        name, status = outcome
        code = int(status.split(' ', 1)[0])
        if is_success(code):
            results['Number Deleted'] += 1
        elif code == 404:
            results['Number Not Found'] += 1
        else:
            errors.append((quote(name), status))

    def _collect_deletes(self, env, version, account, path, name, targets,
                         errors, depth):
        """Fill targets = (segment names, manifest names deepest first)."""
        if not targets:
            targets.extend(([], []))
        sub = make_subrequest_env(env, 'GET', path,
                                  query_string=manifest_query(env, path),
                                  source='SLO')
        resp = call_app(self.app, sub)
        if resp.status_int == 404 and depth == 0:
            resp.drain()
            raise _NotFound()
        if not resp.ok:
            resp.drain()
            errors.append((quote(name), resp.status))
            return
        if not is_slo(resp.headers):
            resp.close()
            errors.append((quote(name), 'Not an SLO manifest'))
            return
        try:
            entries = json.loads(resp.read(self.read_limit))
        except ValueError:
            errors.append((quote(name), 'Unable to load SLO manifest'))
            return
        for entry in entries:
            seg_name = '/' + entry['name'].lstrip('/')
            if entry.get('sub_slo'):
                if depth >= MAX_NESTING:
                    errors.append((quote(seg_name),
                                   'Max recursion depth exceeded'))
                    continue
                self._collect_deletes(
                    env, version, account,
                    str_to_wsgi('/%s/%s%s' % (version, account, seg_name)),
                    seg_name, targets, errors, depth + 1)
            else:
                targets[0].append(seg_name)
        targets[1].append(name)

    def _delete_one(self, env, version, account, name, query=''):
        path = str_to_wsgi('/%s/%s%s' % (version, account, name))
        sub = make_subrequest_env(env, 'DELETE', path, query_string=query,
                                  source='SLO')
        try:
            resp = call_app(self.app, sub)
            resp.drain()
        except SegmentError as err:
            return name, '503 %s' % err
        return name, resp.status
