"""staticweb: serve a container as a web site (Swift's staticweb).

A container's metadata turns it into a site for browsers:

* ``X-Container-Meta-Web-Index: <name>`` -- a request for the container or
  a pseudo-directory (ending in ``/``) serves ``<dir>/<name>``;
* ``X-Container-Meta-Web-Listings: true`` -- where there is no index, an
  HTML listing of the directory (``-Web-Listings-CSS`` links a style
  sheet instead of the built-in style, ``-Web-Listings-Label`` replaces
  ``/v1/<account>/<container>`` in the title);
* ``X-Container-Meta-Web-Error: <suffix>`` -- a 404 (and a 401 for the
  container) serves the object ``<status><suffix>`` with the original
  status;
* ``X-Container-Meta-Web-Directory-Type`` -- the content type of
  directory markers (default ``application/directory``), which are served
  as directories, not as the empty objects they are.

Web mode applies to GET and HEAD from anonymous clients (a container
readable by ``.r:*``; listings also need ``.rlistings``), from temporary
URLs, and from authenticated clients that send ``X-Web-Mode: true``;
every other request passes straight through.  A directory asked for
without its trailing slash is redirected (301) to the slashed URL, so
relative links in its pages resolve.  Everything the site serves is read
with subrequests carrying the client's identity, so the auth filter
judges each read; the container's metadata comes from the proxy's cached
container info.

Config::

    [filter:staticweb]
    use = egg:objproxy#staticweb
    # scheme://host used in redirects instead of the request's own
    # url_base =
"""
import html
import json
from urllib.parse import parse_qs, urlparse

from webob import Request

from middleware.large_objects import (
    ClosingIter, SegmentError, call_app, make_subrequest_env)
from objproxy.common.config import check_options, config_true_value
from objproxy.common.exceptions import ConfigError
from objproxy.common.logs import get_logger
from objproxy.common.paths import (
    PathError, quote, split_path, str_to_wsgi, wsgi_to_str)
from objproxy.common.registry import register_info
from objproxy.proxy.info import get_container_info
from objproxy.common.response import (
    Response, error_response, is_redirection, is_success, status_line)

TEMPURL_USER = '.wsgi.tempurl'
DEFAULT_DIR_TYPE = 'application/directory'
HTML = 'text/html; charset=UTF-8'
LISTING_BODY_LIMIT = 64 * 1024 * 1024
SOURCE = 'SW'


def human_readable(value):
    """Sizes as Swift's listings show them: 1023, 1Ki, 3Mi..."""
    value = float(value)
    index = -1
    suffixes = 'KMGTPEZY'
    while value >= 1024 and index + 1 < len(suffixes):
        index += 1
        value = round(value / 1024)
    if index == -1:
        return '%d' % value
    return '%d%si' % (round(value), suffixes[index])


def tempurl_query(env):
    """The temporary URL parameters a listing's links must carry, and the
    prefix the temporary URL is limited to ('' when it has none)."""
    params = parse_qs(env.get('QUERY_STRING', ''), keep_blank_values=True)

    def first(name):
        values = params.get(name)
        return values[0] if values else None

    prefix = first('temp_url_prefix')
    if prefix is None:
        return '', ''
    # the expiry as the client wrote it (seconds or ISO 8601), as Swift
    parts = ['temp_url_prefix=%s' % quote(prefix),
             'temp_url_expires=%s' % quote(first('temp_url_expires') or ''),
             'temp_url_sig=%s' % (first('temp_url_sig') or '')]
    ip_range = first('temp_url_ip_range')
    if ip_range:
        parts.append('temp_url_ip_range=%s' % quote(ip_range))
    if 'inline' in params:
        parts.append('inline')
    return '?' + '&amp;'.join(parts), prefix


class _Site(object):
    """One web-mode request: the container's web settings and the
    subrequests that resolve indexes, listings and error pages."""

    def __init__(self, staticweb, env, version, account, container, obj):
        self.sw = staticweb
        self.app = staticweb.app
        self.env = env
        self.version = version
        self.account = account
        self.container = container
        self.obj = obj
        self.path = env['PATH_INFO']          # WSGI string
        info = get_container_info(env, self.app, account, container) or {}
        self.info = info
        meta = {}
        if is_success(info.get('status') or 0):
            meta = dict((k.lower(), v) for k, v in
                        (info.get('meta') or {}).items())

        def setting(name):
            # metadata arrives as the nodes sent it: UTF-8 bytes as latin-1
            return _text(meta.get(name) or '').strip()
        self.index = setting('web-index')
        self.error = setting('web-error')
        self.listings = setting('web-listings')
        self.listings_label = setting('web-listings-label')
        self.listings_css = setting('web-listings-css')
        self.dir_type = setting('web-directory-type') or DEFAULT_DIR_TYPE

    # ----- subrequests ------------------------------------------------------

    def _copy_env(self, path=None):
        """The client's own request (conditions, range and all) for another
        path: how an index or the object itself is read."""
        sub = dict(self.env)
        sub['HTTP_USER_AGENT'] = '%s StaticWeb' % self.env.get(
            'HTTP_USER_AGENT')
        sub['swift.source'] = SOURCE
        if path is not None:
            sub['PATH_INFO'] = path
        return sub

    def _call(self, env):
        try:
            return call_app(self.app, env)
        except SegmentError:
            return None

    def _container_path(self):
        return str_to_wsgi('/%s/%s/%s' % (self.version, self.account,
                                          self.container))

    def _fetch_listing(self, query):
        sub = make_subrequest_env(self.env, 'GET', self._container_path(),
                                  query_string=query, source=SOURCE)
        sub['HTTP_USER_AGENT'] = '%s StaticWeb' % self.env.get(
            'HTTP_USER_AGENT')
        resp = self._call(sub)
        if resp is None:
            return None, None
        if not resp.ok:
            return resp, None
        try:
            body = resp.read(LISTING_BODY_LIMIT)
            listing = json.loads(body) if body else []
        except ValueError:
            return resp, None
        return resp, listing if isinstance(listing, list) else None

    # ----- answers ----------------------------------------------------------

    def relay(self, resp, start_response):
        start_response(resp.status, resp.header_list)
        return ClosingIter(resp.app_iter, resp.close)

    def error_page(self, status, resp, start_response, custom=True):
        """``resp`` (a Response or SubResponse with ``status``), or the
        container's ``<status><suffix>`` page served with that status."""
        if custom and self.error:
            path = self._container_path() + str_to_wsgi(
                '/%d%s' % (status, self.error))
            sub = make_subrequest_env(self.env, 'GET', path, source=SOURCE)
            sub['HTTP_USER_AGENT'] = '%s StaticWeb' % self.env.get(
                'HTTP_USER_AGENT')
            page = self._call(sub)
            if page is not None and page.ok:
                if hasattr(resp, 'drain'):
                    resp.drain()
                start_response(_status_line(resp), page.header_list)
                if self.env['REQUEST_METHOD'] == 'HEAD':
                    page.drain()
                    return []
                return ClosingIter(page.app_iter, page.close)
            if page is not None:
                page.drain()
        if hasattr(resp, 'drain'):
            return self.relay(resp, start_response)
        return resp(self.env, start_response)

    def redirect_with_slash(self, start_response):
        scheme = self.sw.url_scheme or self.env.get('wsgi.url_scheme',
                                                    'http')
        host = self.sw.url_host or self.env.get('HTTP_HOST')
        if not host:
            host = self.env.get('SERVER_NAME', 'localhost')
            port = str(self.env.get('SERVER_PORT', ''))
            if port and port != {'http': '80', 'https': '443'}.get(scheme):
                host += ':' + port
        location = '%s://%s%s' % (scheme, host,
                                  quote(wsgi_to_str(self.path) + '/'))
        resp = error_response(301, 'The resource has moved permanently.',
                              headers={'Location': location})
        return resp(self.env, start_response)

    def not_found(self, start_response):
        return self.error_page(404, error_response(404), start_response)

    # ----- containers -------------------------------------------------------

    def handle_container(self, start_response):
        req = Request(dict(self.env))
        req.acl = self.info.get('read_acl')
        denied = self.env['swift.authorize'](req)
        if denied:
            return self.error_page(denied.status_int, _WebobAnswer(denied),
                                   start_response)
        if not self.listings and not self.index:
            if config_true_value(self.env.get('HTTP_X_WEB_MODE', 'f')):
                return error_response(404)(self.env, start_response)
            return self.app(self.env, start_response)
        if not self.path.endswith('/'):
            return self.redirect_with_slash(start_response)
        if not self.index:
            return self.listing(start_response)
        resp = self._call(self._copy_env(self.path +
                                         str_to_wsgi(self.index)))
        if resp is None:
            return error_response(503)(self.env, start_response)
        if resp.status_int == 404:
            resp.drain()
            return self.listing(start_response)
        if not (is_success(resp.status_int) or
                is_redirection(resp.status_int)):
            return self.error_page(resp.status_int, resp, start_response)
        return self.relay(resp, start_response)

    # ----- objects ----------------------------------------------------------

    def handle_object(self, start_response):
        resp = self._call(self._copy_env())
        if resp is None:
            return error_response(503)(self.env, start_response)
        status = resp.status_int
        if (is_success(status) or is_redirection(status)):
            length = resp.headers.get('content-length') or '0'
            try:
                length = int(length)
            except ValueError:
                length = 0
            if resp.headers.get('content-type') != self.dir_type or \
                    length > 1:
                return self.relay(resp, start_response)
            status = 404        # a directory marker: serve the directory
        if status != 404:
            # only 404s get the site's error page (as in Swift)
            return self.error_page(status, resp, start_response,
                                   custom=False)
        if not self.listings and not self.index:
            return self.relay(resp, start_response)
        resp.drain()
        if self.index:
            path = self.path if self.path.endswith('/') else self.path + '/'
            resp = self._call(self._copy_env(path + str_to_wsgi(self.index)))
            if resp is None:
                return error_response(503)(self.env, start_response)
            if is_success(resp.status_int) or \
                    is_redirection(resp.status_int):
                if not self.path.endswith('/'):
                    resp.drain()
                    return self.redirect_with_slash(start_response)
                return self.relay(resp, start_response)
            if resp.status_int != 404:
                return self.error_page(resp.status_int, resp,
                                       start_response, custom=False)
            resp.drain()
        if not self.path.endswith('/'):
            query = 'format=json&limit=1&delimiter=/&prefix=%s' % quote(
                self.obj + '/', safe='')
            resp, listing = self._fetch_listing(query)
            if not listing:
                return self.not_found(start_response)
            return self.redirect_with_slash(start_response)
        return self.listing(start_response, self.obj)

    # ----- listings ---------------------------------------------------------

    def _label(self):
        label = wsgi_to_str(self.path)
        if self.listings_label:
            rest = label.split('/')[4:]
            label = '%s/%s' % (self.listings_label, '/'.join(rest))
        return html.escape(label)

    def _css_link(self, prefix):
        css = self.listings_css
        if css.startswith(('/', 'http://', 'https://')):
            href = quote(css, ':/')
        else:
            href = '../' * prefix.count('/') + quote(css)
        return ('  <link rel="stylesheet" type="text/css" href="%s" />\n'
                % href)

    def listing_disabled(self, start_response, prefix):
        body = ('<!DOCTYPE html>\n<html>\n<head>\n'
                '<title>Listing of %s</title>\n' % self._label())
        if self.listings_css:
            body += self._css_link(prefix)
        else:
            body += ('  <style type="text/css">\n'
                     '   h1 {font-size: 1em; font-weight: bold;}\n'
                     '   p {font-size: 2}\n'
                     '  </style>\n')
        body += ('</head>\n<body>'
                 '  <h1>Web Listing Disabled</h1>'
                 '   <p>The owner of this web site has disabled web listing.'
                 '   <p>If you are the owner of this web site, you can enable'
                 '   web listing by setting X-Container-Meta-Web-Listings.'
                 '</p>')
        if self.index:
            body += ('<h1>Index File Not Found</h1>'
                     ' <p>The owner of this web site has set '
                     ' <b>X-Container-Meta-Web-Index: %s</b>. '
                     ' However, this file is not found.</p>'
                     % html.escape(self.index))
        body += ' </body>\n</html>\n'
        return self.error_page(404, Response(404, body=body,
                                             content_type=HTML),
                               start_response)

    def listing(self, start_response, prefix=''):
        """The HTML listing of ``prefix`` (a pseudo-directory, text)."""
        if not config_true_value(self.listings):
            return self.listing_disabled(start_response, prefix)
        query = 'format=json&delimiter=/'
        if prefix:
            query += '&prefix=%s' % quote(prefix, safe='')
        resp, listing = self._fetch_listing(query)
        if resp is None:
            return error_response(503)(self.env, start_response)
        if not resp.ok:
            return self.error_page(resp.status_int, resp, start_response)
        if listing is None:
            return error_response(500)(self.env, start_response)
        if prefix and not listing:
            return self.not_found(start_response)
        links, link_prefix = '', ''
        if self.env.get('REMOTE_USER') == TEMPURL_USER:
            links, link_prefix = tempurl_query(self.env)
        body = self._render(listing, prefix, links, link_prefix)
        resp = Response(200, body=body, headers={
            'Content-Type': HTML,
            'X-Backend-Content-Generator': 'staticweb'})
        return resp(self.env, start_response)

    def _render(self, listing, prefix, links, link_prefix):
        label = self._label()
        out = ['<!DOCTYPE html>\n<html>\n <head>\n'
               '  <title>Listing of %s</title>\n' % label]
        if self.listings_css:
            out.append(self._css_link(prefix))
        else:
            out.append('  <style type="text/css">\n'
                       '   h1 {font-size: 1em; font-weight: bold;}\n'
                       '   th {text-align: left; padding: 0px 1em 0px 1em;}\n'
                       '   td {padding: 0px 1em 0px 1em;}\n'
                       '   a {text-decoration: none;}\n'
                       '  </style>\n')
        out.append(' </head>\n <body>\n'
                   '  <h1 id="title">Listing of %s</h1>\n'
                   '  <table id="listing">\n'
                   '   <tr id="heading">\n'
                   '    <th class="colname">Name</th>\n'
                   '    <th class="colsize">Size</th>\n'
                   '    <th class="coldate">Date</th>\n'
                   '   </tr>\n' % label)
        if len(prefix) > len(link_prefix):
            out.append('   <tr id="parent" class="item">\n'
                       '    <td class="colname"><a href="../%s">../</a></td>\n'
                       '    <td class="colsize">&nbsp;</td>\n'
                       '    <td class="coldate">&nbsp;</td>\n'
                       '   </tr>\n' % links)
        for item in listing:
            if 'subdir' in item:
                name = item['subdir'][len(prefix):]
                out.append('   <tr class="item subdir">\n'
                           '    <td class="colname"><a href="./%s">%s</a>'
                           '</td>\n'
                           '    <td class="colsize">&nbsp;</td>\n'
                           '    <td class="coldate">&nbsp;</td>\n'
                           '   </tr>\n' % (_href(name) + links,
                                           html.escape(name)))
        for item in listing:
            if 'name' in item:
                name = item['name'][len(prefix):]
                types = ' '.join('type-' + html.escape(t.lower()) for t in
                                 (item.get('content_type') or '').split('/'))
                modified = html.escape(item.get('last_modified') or '') \
                    .split('.')[0].replace('T', ' ')
                out.append('   <tr class="item %s">\n'
                           '    <td class="colname"><a href="./%s">%s</a>'
                           '</td>\n'
                           '    <td class="colsize">%s</td>\n'
                           '    <td class="coldate">%s</td>\n'
                           '   </tr>\n' % (
                               types, _href(name) + links, html.escape(name),
                               human_readable(item.get('bytes') or 0),
                               modified))
        out.append('  </table>\n </body>\n</html>\n')
        return ''.join(out)


def _text(value):
    try:
        return wsgi_to_str(value)
    except PathError:
        return value


def _href(name):
    # dots escaped too, so "." and ".." entries stay names, not paths
    return quote(name).replace('.', '%2E')


def _status_line(resp):
    line = resp.status
    return line if isinstance(line, str) else status_line(line)


class _WebobAnswer(object):
    """An auth filter's (webob) denial, called like our Response."""

    def __init__(self, resp):
        self.resp = resp
        self.status = resp.status

    def __call__(self, env, start_response):
        return self.resp(env, start_response)


class StaticWeb(object):
    """Decides which requests are web-mode requests (see module doc)."""

    def __init__(self, app, conf, logger=None):
        self.app = app
        self.logger = logger or get_logger(conf, 'proxy-server',
                                           log_route='staticweb')
        self.url_scheme, self.url_host = parse_url_base(conf.get('url_base'))

    def __call__(self, env, start_response):
        if 'swift.authorize' not in env:
            self.logger.warning('no auth filter has seen this request yet: '
                                'staticweb is skipped')
            return self.app(env, start_response)
        if env.get('REQUEST_METHOD') not in ('GET', 'HEAD'):
            return self.app(env, start_response)
        try:
            version, account, container, obj = split_path(
                wsgi_to_str(env.get('PATH_INFO', '')), 2, 4, True)
        except (PathError, ValueError):
            return self.app(env, start_response)
        user = env.get('REMOTE_USER')
        if user and user != TEMPURL_USER and not config_true_value(
                env.get('HTTP_X_WEB_MODE', 'f')):
            return self.app(env, start_response)
        if not container:
            return self.app(env, start_response)
        site = _Site(self, env, version, account, container, obj)
        if obj:
            return site.handle_object(start_response)
        return site.handle_container(start_response)


def parse_url_base(value):
    """(scheme, host) from ``url_base``, or (None, None) when unset."""
    if not value or not value.strip():
        return None, None
    parsed = urlparse(value.strip())
    if parsed.scheme not in ('http', 'https') or not parsed.netloc:
        raise ConfigError('[filter:staticweb] url_base must look like '
                          'scheme://host[:port], not %r' % value)
    return parsed.scheme, parsed.netloc


def filter_factory(global_conf, **local_conf):
    conf = dict(global_conf or {}, **local_conf)
    check_options('filter:staticweb', local_conf, global_conf, ('url_base',))
    parse_url_base(conf.get('url_base'))
    register_info('staticweb')

    def factory(app):
        return StaticWeb(app, conf)
    return factory
