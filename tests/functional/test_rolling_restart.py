"""A rolling restart of two proxies behind nginx loses no request.

The procedure of docs/deployment.md, step by step, under a steady load of
PUTs and GETs through nginx: for each proxy in turn, touch its healthcheck
``disable_path``, regenerate nginx's upstream list from the proxies'
``/healthcheck`` answers and reload nginx (the proxy leaves the rotation),
restart the proxy (SIGTERM: it finishes what it is serving), remove the
file, regenerate and reload again (it comes back).  Every request the
clients sent must succeed.
"""
import http.client
import os
import shutil
import subprocess
import threading
import time
import uuid

from tests.cluster import ExtraProxy
from tests.needs import missing
from tests.ports import free_ports

NGINX = shutil.which('nginx') or '/usr/sbin/nginx'
CLIENTS = 4

NGINX_CONF = '''\
{user}
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    client_max_body_size 0;
    upstream objproxy {{
        include {prefix}/objproxy-upstreams.conf;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://objproxy;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_request_buffering off;
            proxy_buffering off;
            proxy_next_upstream error timeout;
        }}
    }}
}}
'''


def healthy(url):
    host, port = url.split('//')[1].split(':')
    conn = http.client.HTTPConnection(host, int(port), timeout=2)
    try:
        conn.request('GET', '/healthcheck')
        resp = conn.getresponse()
        return resp.status, resp.read()
    except OSError:
        return None, b''
    finally:
        conn.close()


class Nginx(object):
    def __init__(self, prefix, proxies):
        self.prefix = str(prefix)
        self.proxies = proxies  # {address: url}
        self.port = free_ports(1)[0]
        self.conf = os.path.join(self.prefix, 'nginx.conf')
        user = 'user root;' if os.geteuid() == 0 else ''
        with open(self.conf, 'w') as fp:
            fp.write(NGINX_CONF.format(user=user, prefix=self.prefix,
                                       port=self.port))
        self.gate()
        self.proc = subprocess.Popen([NGINX, '-p', self.prefix, '-c',
                                      self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.time() + 15
        while self.workers() == set():
            assert self.proc.poll() is None, self.proc.stderr.read()
            assert time.time() < deadline, 'nginx did not start'
            time.sleep(0.05)

    def gate(self):
        """The upstream list: a proxy whose /healthcheck does not answer
        200 is marked down (docs/deployment.md, "take it out")."""
        lines = []
        for address, url in sorted(self.proxies.items()):
            up = healthy(url)[0] == 200
            lines.append('server %s%s;' % (address, '' if up else ' down'))
        with open(os.path.join(self.prefix, 'objproxy-upstreams.conf'),
                  'w') as fp:
            fp.write('\n'.join(lines) + '\n')
        return lines

    def workers(self):
        out = subprocess.run(['ps', '-o', 'pid=', '--ppid',
                              str(self.proc.pid)],
                             capture_output=True, text=True).stdout
        return set(int(p) for p in out.split())

    def reload(self):
        """``nginx -s reload`` and wait until only new workers serve."""
        old = self.workers()
        subprocess.run([NGINX, '-p', self.prefix, '-c', self.conf, '-s',
                        'reload'], check=True, capture_output=True)
        deadline = time.time() + 30
        while True:
            now = self.workers()
            if now and not (now & old):
                return
            assert time.time() < deadline, 'nginx kept its old workers'
            time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        self.proc.communicate(timeout=20)


class Load(object):
    """Clients that PUT then GET objects through nginx until stopped; a
    fresh connection per request, as most SDK calls after an error."""

    def __init__(self, port, storage_path, token):
        self.port = port
        self.path = storage_path
        self.token = token
        self.stopping = threading.Event()
        self.ok = 0
        self.failures = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.client, args=(i,))
                        for i in range(CLIENTS)]

    def request(self, method, path, body=None):
        conn = http.client.HTTPConnection('127.0.0.1', self.port,
                                          timeout=30)
        try:
            conn.request(method, path, body=body,
                         headers={'X-Auth-Token': self.token})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def client(self, index):
        while not self.stopping.is_set():
            name = '%s/c%d-%s' % (self.path, index, uuid.uuid4().hex)
            body = os.urandom(2048)
            try:
                put = self.request('PUT', name, body)[0]
                get, got = self.request('GET', name)
                good = put == 201 and get == 200 and got == body
                failure = None if good else (put, get, len(got))
            except OSError as err:
                failure = repr(err)
            with self.lock:
                if failure is None:
                    self.ok += 1
                else:
                    self.failures.append(failure)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for thread in self.threads:
            thread.join(60)


def wait_for(predicate, what, timeout=30):
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, what
        time.sleep(0.05)


def test_rolling_restart_behind_nginx_fails_no_request(cluster, tmp_path):
    if not os.path.exists(NGINX):
        missing('nginx is not installed (scripts/install installs it)')
    proxies = {}
    for name in ('rolling-a', 'rolling-b'):
        disable = str(tmp_path / (name + '.disable'))
        proxy = cluster.extra_proxy(name, overrides={
            'filter:healthcheck': {'disable_path': disable}})
        proxy.disable_path = disable
        proxy.name = name
        proxy.conf = os.path.join(cluster.objproxy_dir, name + '.conf')
        proxies[proxy.url.split('//')[1]] = proxy
    nginx = Nginx(tmp_path, {a: p.url for a, p in proxies.items()})
    try:
        storage_url, token = cluster.token()
        path = '/v1/' + storage_url.split('/v1/')[1] + '/rolling'
        load = Load(nginx.port, path, token)
        assert load.request('PUT', path)[0] in (201, 202)
        with load:
            wait_for(lambda: load.ok >= 20, 'no load got through')
            for address in sorted(proxies):
                proxy = proxies[address]
                # 1. out of rotation
                open(proxy.disable_path, 'w').close()
                assert healthy(proxy.url) == (503, b'DISABLED BY FILE')
                assert 'server %s down;' % address in nginx.gate()
                nginx.reload()
                # 2. restart it: SIGTERM drains what it still serves
                conf, log_file = proxy.conf, proxy.log_file
                proxy.stop()
                port = int(address.split(':')[1])
                new = ExtraProxy(conf, port, log_file)
                new.disable_path, new.name = proxy.disable_path, proxy.name
                new.conf = conf
                proxies[address] = proxy = new
                assert healthy(proxy.url)[0] == 503  # up, still out
                # 3. back into rotation
                os.unlink(proxy.disable_path)
                wait_for(lambda: healthy(proxy.url)[0] == 200,
                         'the restarted proxy never became healthy')
                assert 'server %s;' % address in nginx.gate()
                nginx.reload()
                served = load.ok
                wait_for(lambda: load.ok >= served + 20,
                         'no load after bringing %s back' % address)
        assert load.failures == [], load.failures[:10]
        assert load.ok >= 60
    finally:
        nginx.stop()
        for proxy in proxies.values():
            proxy.stop()
