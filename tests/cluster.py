"""A real all-in-one cluster on free loopback ports, for functional tests.

It is the same AllInOne that ``objproxy-aio`` runs: real storage-node
processes, a real proxy with the full pipeline, memcached and clamd.
"""
import configparser
import json
import os
import subprocess
import sys
import urllib.request

from objproxy.cli.aio import AllInOne, wait_for_port
from objproxy.common.hashing import hash_path, load_hash_config
from objproxy.ring.ring import Ring
from tests.ports import free_ports

NODE_COUNT = 4


class Cluster(object):
    def __init__(self, data_dir, workers=1, pipeline=None):
        ports = free_ports(NODE_COUNT + 2)
        self.aio = AllInOne(str(data_dir), port=ports[0],
                            node_ports=ports[1:NODE_COUNT + 1],
                            workers=workers, pipeline=pipeline,
                            memcache_port=ports[-1])
        self.proxy_url = self.aio.proxy_url
        self.auth_url = self.proxy_url + '/auth/v1.0'

    def start(self):
        self.aio.start()
        load_hash_config(self.objproxy_dir)
        return self

    def stop(self):
        self.aio.stop()

    @property
    def objproxy_dir(self):
        return self.aio.layout.etc_dir

    @property
    def data_dir(self):
        return self.aio.data_dir

    @property
    def memcache_servers(self):
        return '127.0.0.1:%d' % self.aio.memcache_port

    @property
    def clamd(self):
        return self.aio.clamd

    @property
    def nodes(self):
        layout = self.aio.layout
        return [{'ip': self.aio.ip, 'port': port,
                 'devices': layout.node_devices(i),
                 'device': layout.node_device_name(i),
                 'pid': self._pid('node%d' % (i + 1))}
                for i, port in enumerate(self.aio.node_ports)]

    def _pid(self, name):
        proc = self.aio.procs.get(name)
        return proc.pid if proc and proc.poll() is None else None

    def ring(self, name='object'):
        """This cluster's ring.  Hashing is process-wide state and every
        cluster has its own prefix/suffix, so a test process that started
        several clusters selects this one's first."""
        load_hash_config(self.objproxy_dir)
        return Ring(self.objproxy_dir, ring_name=name)

    def token(self, user='test:tester', key='testing'):
        req = urllib.request.Request(self.auth_url, headers={
            'X-Auth-User': user, 'X-Auth-Key': key})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return (resp.headers['X-Storage-Url'],
                    resp.headers['X-Auth-Token'])

    def stop_node(self, index):
        self.aio.stop_node(index)

    def kill_node(self, index):
        self.aio.kill_node(index)

    def start_node(self, index):
        self.aio.start_node(index)

    def object_files(self, account, container, obj):
        """Every file stored for an object, on every node, by node index."""
        ring = self.ring('object')
        part, _ = ring.get_nodes(account, container, obj)
        name_hash = hash_path(account, container, obj)
        found = {}
        for index, node in enumerate(self.nodes):
            obj_dir = os.path.join(node['devices'], node['device'],
                                   'objects', str(part), name_hash[-3:],
                                   name_hash)
            if os.path.isdir(obj_dir):
                found[index] = sorted(os.listdir(obj_dir))
        return found

    def info(self):
        with urllib.request.urlopen(self.proxy_url + '/info',
                                    timeout=10) as resp:
            return json.loads(resp.read())

    def extra_proxy(self, name, pipeline=None, overrides=None, extra=''):
        """Another proxy on this cluster (same rings, same memcached).

        ``overrides`` maps section names to options to set; ``extra`` is
        raw config text appended (a third-party filter's section, say).
        Returns an ExtraProxy; stop it when done.
        """
        parser = configparser.RawConfigParser()
        parser.optionxform = str
        parser.read(self.aio.layout.proxy_conf)
        port = free_ports(1)[0]
        parser['DEFAULT']['bind_port'] = str(port)
        parser['DEFAULT']['workers'] = '0'
        log_file = os.path.join(self.data_dir, 'log', name + '.log')
        parser['DEFAULT']['log_file'] = log_file
        if pipeline:
            parser['pipeline:main']['pipeline'] = pipeline
        for section, options in (overrides or {}).items():
            if not parser.has_section(section):
                parser.add_section(section)
            for key, value in options.items():
                parser[section][key] = str(value)
        conf = os.path.join(self.objproxy_dir, name + '.conf')
        with open(conf, 'w') as fp:
            parser.write(fp)
            fp.write(extra)
        return ExtraProxy(conf, port, log_file)


class ExtraProxy(object):
    def __init__(self, conf, port, log_file):
        self.url = 'http://127.0.0.1:%d' % port
        self.log_file = log_file
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(
            [os.path.dirname(conf)] + sys.path)
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'objproxy.cli.server', conf],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        if not wait_for_port('127.0.0.1', port, 30, self.proc):
            out = self.proc.stdout.read().decode(errors='replace')
            self.stop()
            raise RuntimeError('extra proxy did not start: %s' % out)

    def log_lines(self):
        try:
            with open(self.log_file) as fp:
                return fp.read().splitlines()
        except FileNotFoundError:
            return []

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
