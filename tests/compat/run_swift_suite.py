"""Run OpenStack Swift's functional test suite against a fresh objproxy-aio.

Swift ships its functional tests (``test/functional`` in the sdist): they
talk HTTP to a running cluster and are the most complete description of
what the Swift API does.  This runner:

1. installs the suite on first use into a cache directory outside the repo
   (``~/.cache/objproxy-swift-suite`` unless ``--cache-dir`` or
   ``$OBJPROXY_SWIFT_SUITE_CACHE`` says otherwise): a virtualenv with
   swift==2.38.3 and what the suite imports, and the unpacked sdist, whose
   ``test/`` tree is the suite itself;
2. starts an all-in-one cluster (the ``AllInOne`` that ``objproxy-aio``
   runs, default pipeline, real clamd) in a new data directory, on free
   loopback ports;
3. writes the suite's ``test.conf`` for the cluster's tempauth users and
   runs pytest over the suite, writing junit xml;
4. compares the outcome with ``tests/compat/expected-pass.txt``: every
   test listed there must pass.  A listed test that did not pass is run
   once more on its own before it counts as a failure.

The cluster is stopped on the way out, whatever happened.  Exit status: 0
when every listed test passed, 1 when one did not, 2 when the run itself
could not be done (install, cluster start, no junit output).
"""
import argparse
import collections
import fcntl
import http.client
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse
import warnings
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_EXPECTED = os.path.join(HERE, 'expected-pass.txt')
DEFAULT_CACHE = os.path.join('~', '.cache', 'objproxy-swift-suite')
CACHE_ENV = 'OBJPROXY_SWIFT_SUITE_CACHE'

SWIFT_VERSION = '2.38.3'
# What the suite needs in its virtualenv, pinned so that every run (and
# every machine) collects and runs the same tests.  swift itself brings
# the libraries its test helpers import; boto3 is imported at collection
# time by the s3api modules (whose tests then skip: no s3api here).
SUITE_REQUIREMENTS = (
    'swift==%s' % SWIFT_VERSION,
    'python-swiftclient==4.11.0',
    'pytest==9.2.0',
    'pytest-subtests==0.15.0',
    'boto3==1.44.8',
)
# A listed test that did not pass is re-run on its own, unless this many
# or more did not pass: then it is no flake, and a re-run only costs time.
MAX_RERUN = 30

OUTCOMES = ('passed', 'failed', 'skipped', 'error')
# When one test has several junit entries (a failing teardown after a pass,
# say), the worst one is its outcome.
_SEVERITY = {'passed': 0, 'skipped': 1, 'failed': 2, 'error': 3}

HEADER = """\
# Tests of OpenStack Swift {version}'s functional suite (test/functional of
# its sdist) that pass against a fresh objproxy-aio with its default
# pipeline.  scripts/compat runs the suite and fails when a test listed
# here does not pass.  One junit id per line (classname::name), sorted.
# The list only grows: `scripts/compat --update` appends the tests that
# pass now; never remove a line to make a run green.
""".format(version=SWIFT_VERSION)


def log(msg=''):
    print(msg, flush=True)


# -- junit and the expected list -------------------------------------------
def parse_junit(path):
    """{'classname::name': outcome} for every testcase in a junit xml."""
    results = {}
    for case in ET.parse(path).getroot().iter('testcase'):
        test_id = '%s::%s' % (case.get('classname', ''), case.get('name', ''))
        tags = {child.tag for child in case}
        if 'error' in tags:
            outcome = 'error'
        elif 'failure' in tags:
            outcome = 'failed'
        elif 'skipped' in tags:
            outcome = 'skipped'
        else:
            outcome = 'passed'
        old = results.get(test_id)
        if old is None or _SEVERITY[outcome] > _SEVERITY[old]:
            results[test_id] = outcome
    return results


def junit_messages(path):
    """{'classname::name': first line of the failure/error message}."""
    messages = {}
    for case in ET.parse(path).getroot().iter('testcase'):
        test_id = '%s::%s' % (case.get('classname', ''), case.get('name', ''))
        for child in case:
            if child.tag in ('failure', 'error') and test_id not in messages:
                text = child.get('message') or (child.text or '')
                lines = [ln for ln in text.strip().splitlines() if ln.strip()]
                messages[test_id] = lines[0][:160] if lines else ''
    return messages


def junit_tracebacks(path):
    """{'classname::name': the text of its first failure/error}."""
    texts = {}
    for case in ET.parse(path).getroot().iter('testcase'):
        test_id = '%s::%s' % (case.get('classname', ''), case.get('name', ''))
        for child in case:
            if child.tag in ('failure', 'error') and test_id not in texts:
                texts[test_id] = (child.text or child.get('message') or '')
    return texts


def show_tracebacks(verdict, junit, most=10, lines=25):
    """The end of each listed failure's traceback (CI shows no files)."""
    if not verdict.not_passing or not os.path.exists(junit):
        return
    texts = junit_tracebacks(junit)
    shown = [t for t in sorted(verdict.not_passing) if texts.get(t)][:most]
    for test_id in shown:
        log('')
        log('---- %s' % test_id)
        for line in texts[test_id].rstrip().splitlines()[-lines:]:
            log('  | ' + line)


def read_expected(path):
    """The listed test ids (comments and blank lines ignored)."""
    if not os.path.exists(path):
        return []
    with open(path) as fp:
        return [line.strip() for line in fp
                if line.strip() and not line.lstrip().startswith('#')]


def update_expected(path, passed_ids):
    """Add ``passed_ids`` to the list at ``path``; nothing is ever removed.

    The leading comment block is kept as it is (a default one is written
    for a new file) and the ids are written sorted, one per line.  Returns
    the ids that were added, sorted.
    """
    header = HEADER
    if os.path.exists(path):
        with open(path) as fp:
            lines = fp.read().splitlines()
        kept = []
        for line in lines:
            if line.startswith('#') or (not line.strip() and not kept):
                kept.append(line)
            else:
                break
        if any(line.startswith('#') for line in kept):
            header = '\n'.join(ln for ln in kept if ln.strip()) + '\n'
    listed = set(read_expected(path))
    added = sorted(set(passed_ids) - listed)
    tmp = path + '.tmp'
    with open(tmp, 'w') as fp:
        fp.write(header)
        for test_id in sorted(listed | set(passed_ids)):
            fp.write(test_id + '\n')
    os.replace(tmp, path)
    return added


def module_of(test_id):
    """'test.functional.tests' for 'test.functional.tests.TestFile::x'."""
    classname = test_id.split('::', 1)[0]
    parts = classname.split('.')
    # classnames are module.Class; a module-level test has no class part
    if len(parts) > 1 and parts[-1][:1].isupper():
        parts = parts[:-1]
    return '.'.join(parts)


class Verdict(object):
    """How a run compares with the expected list.

    ``full_run``: the whole suite ran, so a listed test that is missing
    from the results counts as not passing (renamed, or collection broke).
    In a narrowed run (``-k``, paths) listed tests that did not run are
    only counted.
    """

    def __init__(self, results, expected, full_run=True):
        self.results = results
        self.expected = list(expected)
        listed = set(self.expected)
        self.not_passing = {}       # listed id -> outcome ('missing' too)
        self.not_run = 0
        for test_id in sorted(listed):
            outcome = results.get(test_id)
            if outcome is None:
                if full_run:
                    self.not_passing[test_id] = 'missing'
                else:
                    self.not_run += 1
            elif outcome != 'passed':
                self.not_passing[test_id] = outcome
        self.new_passes = sorted(t for t, o in results.items()
                                 if o == 'passed' and t not in listed)

    def counts(self):
        counter = collections.Counter(self.results.values())
        return {o: counter.get(o, 0) for o in OUTCOMES}

    def per_module(self):
        table = collections.defaultdict(collections.Counter)
        for test_id, outcome in self.results.items():
            table[module_of(test_id)][outcome] += 1
        return table

    def rerun_passed(self, rerun_results):
        """Forget the listed tests that passed when run again; returns
        them."""
        recovered = sorted(t for t in self.not_passing
                           if rerun_results.get(t) == 'passed')
        for test_id in recovered:
            del self.not_passing[test_id]
        return recovered

    @property
    def ok(self):
        return not self.not_passing


def node_id(test_id, suite_root):
    """pytest node id (path::Class::name) for a junit id, or None."""
    classname, name = test_id.split('::', 1)
    parts = classname.split('.')
    for cut in range(len(parts), 0, -1):
        path = '/'.join(parts[:cut]) + '.py'
        if os.path.isfile(os.path.join(suite_root, path)):
            return '::'.join([path] + parts[cut:] + [name])
    return None


# -- installing the suite ----------------------------------------------------
class Suite(object):
    def __init__(self, cache_dir):
        self.cache_dir = os.path.abspath(os.path.expanduser(cache_dir))
        self.venv = os.path.join(self.cache_dir, 'venv')
        self.python = os.path.join(self.venv, 'bin', 'python')
        self.sdist_dir = os.path.join(self.cache_dir, 'sdist')
        self.root = os.path.join(self.sdist_dir, 'swift-%s' % SWIFT_VERSION)
        self.stamp = os.path.join(self.venv, '.objproxy-suite-requirements')

    def installed(self):
        try:
            with open(self.stamp) as fp:
                stamp = fp.read().split()
        except OSError:
            return False
        return (stamp == list(SUITE_REQUIREMENTS)
                and os.path.isfile(self.python)
                and os.path.isdir(os.path.join(self.root, 'test',
                                               'functional')))

    def ensure(self):
        """Install what is missing; True when something was installed."""
        if self.installed():
            return False
        os.makedirs(self.cache_dir, exist_ok=True)
        with open(os.path.join(self.cache_dir, '.lock'), 'w') as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two runs, one install
            if self.installed():
                return False
            self._install_venv()
            self._fetch_sdist()
        return True

    def _install_venv(self):
        try:
            with open(self.stamp) as fp:
                if fp.read().split() == list(SUITE_REQUIREMENTS):
                    return
        except OSError:
            pass
        log('compat: installing %s into %s'
            % (' '.join(SUITE_REQUIREMENTS), self.venv))
        if not os.path.isfile(self.python):
            _run([sys.executable, '-m', 'venv', self.venv])
        _run([self.python, '-m', 'pip', 'install', '-q',
              '--disable-pip-version-check'] + list(SUITE_REQUIREMENTS))
        with open(self.stamp, 'w') as fp:
            fp.write('\n'.join(SUITE_REQUIREMENTS) + '\n')

    def _fetch_sdist(self):
        if os.path.isdir(os.path.join(self.root, 'test', 'functional')):
            return
        log('compat: fetching the swift==%s sdist into %s'
            % (SWIFT_VERSION, self.sdist_dir))
        download = tempfile.mkdtemp(prefix='download-', dir=self.cache_dir)
        try:
            _run([self.python, '-m', 'pip', 'download', '-q',
                  '--disable-pip-version-check', '--no-deps',
                  '--no-binary', ':all:', 'swift==%s' % SWIFT_VERSION,
                  '-d', download])
            archives = [n for n in os.listdir(download)
                        if n.endswith('.tar.gz')]
            if len(archives) != 1:
                raise SetupError('expected one sdist archive, pip gave %s'
                                 % os.listdir(download))
            unpack = os.path.join(download, 'unpacked')
            with tarfile.open(os.path.join(download, archives[0])) as tar:
                tar.extractall(unpack, filter='data')
            tree = os.path.join(unpack, 'swift-%s' % SWIFT_VERSION)
            if not os.path.isdir(os.path.join(tree, 'test', 'functional')):
                raise SetupError('the sdist has no test/functional')
            os.makedirs(self.sdist_dir, exist_ok=True)
            if os.path.exists(self.root):
                shutil.rmtree(self.root)
            os.rename(tree, self.root)
        finally:
            shutil.rmtree(download, ignore_errors=True)


class SetupError(Exception):
    """The run could not be set up (install, cluster); exit status 2."""


def _run(cmd):
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL)
    if proc.returncode:
        raise SetupError('%s exited with status %d'
                         % (shlex.join(cmd), proc.returncode))


# -- the cluster -------------------------------------------------------------
def start_cluster(data_dir, port, daemons, pipeline=None):
    sys.path.insert(0, REPO)
    warnings.filterwarnings('ignore', message=r'(?s).*Eventlet is deprecated')
    from objproxy.cli.aio import AllInOne, NODE_COUNT
    from tests.ports import free_ports
    ports = free_ports(NODE_COUNT + 2)
    aio = AllInOne(data_dir, port=port or ports[0],
                   node_ports=ports[1:NODE_COUNT + 1],
                   memcache_port=ports[-1], workers=1, daemons=daemons,
                   pipeline=pipeline)
    try:
        aio.start()
    except BaseException:
        aio.stop()
        raise
    return aio


def cluster_problems(aio):
    """Restart a dead clamd (as objproxy-aio does) and name dead children."""
    news = aio.supervise()
    problems = [news] if news else []
    problems += ['%s exited with status %s' % (name, proc.returncode)
                 for name, proc in sorted(aio.procs.items())
                 if proc.poll() is not None]
    return problems


def get_token(auth_url, user, key):
    parsed = urllib.parse.urlsplit(auth_url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port,
                                      timeout=10)
    try:
        conn.request('GET', parsed.path, headers={'X-Auth-User': user,
                                                  'X-Auth-Key': key})
        resp = conn.getresponse()
        resp.read()
        if resp.status // 100 != 2:
            raise SetupError('auth as %s: %d' % (user, resp.status))
        return resp.getheader('X-Storage-Url'), resp.getheader('X-Auth-Token')
    finally:
        conn.close()


def prime_accounts(auth_url, users):
    """Write to each account once so that it exists on disk.

    Swift answers a HEAD of an account that was never written with 200
    and a GET with 204 (the proxy makes the account up); once it exists
    both give 204.  The suite's account tests assume it exists, as it
    does on any cluster that has served a request before, so create a
    container and delete it again.
    """
    for user, key in users:
        storage_url, token = get_token(auth_url, user, key)
        parsed = urllib.parse.urlsplit(storage_url)
        path = parsed.path.rstrip('/') + '/compat-prime'
        for method in ('PUT', 'DELETE'):
            conn = http.client.HTTPConnection(parsed.hostname, parsed.port,
                                              timeout=10)
            try:
                conn.request(method, path, headers={'X-Auth-Token': token})
                resp = conn.getresponse()
                resp.read()
                if resp.status // 100 != 2:
                    raise SetupError('%s %s as %s: %d'
                                     % (method, path, user, resp.status))
            finally:
                conn.close()


# tempauth users, as objproxy-aio configures them (etc/proxy-server.conf)
TEST_CONF = """\
# Written by tests/compat/run_swift_suite.py for {url}
[func_test]
auth_uri = {url}/auth/v1.0
auth_version = 1
# first account: test:tester is an admin of it, test:tester3 is not
account = test
username = tester
password = testing
username3 = tester3
password3 = testing3
# second account, test2:tester2 is an admin of it
account2 = test2
username2 = tester2
password2 = testing2
# service tokens: test5:tester5 is in the "service" group
account5 = test5
username5 = tester5
password5 = testing5
service_prefix = SERVICE
# reseller admin
account6 = admin
username6 = admin
password6 = admin
collate = C
insecure = no

[unit_test]
fake_syslog = False
"""

PRIMED_USERS = (('test:tester', 'testing'), ('test2:tester2', 'testing2'))


# -- running pytest ------------------------------------------------------------
def pytest_command(suite, junit, args):
    # pytest's default python_files would miss tests.py, the largest module
    return [suite.python, '-m', 'pytest', '-p', 'no:cacheprovider',
            '-p', 'no:requests_mock', '-o', 'python_files=test_*.py tests.py',
            '-o', 'junit_family=xunit2', '-rfE',
            '--junitxml=%s' % junit] + list(args)


def suite_env(conf):
    env = dict(os.environ)
    env['SWIFT_TEST_CONFIG_FILE'] = conf
    env['SWIFT_TEST_IN_PROCESS'] = 'no'
    env.pop('SWIFT_TEST_POLICY', None)
    env.pop('PYTHONPATH', None)
    return env


def run_pytest(cmd, cwd, env, log_path, aio, problems):
    """Run pytest, its output into ``log_path``; watch the cluster."""
    with open(log_path, 'w') as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out,
                                stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        try:
            while proc.poll() is None:
                try:
                    proc.wait(1)
                except subprocess.TimeoutExpired:
                    pass
                for problem in cluster_problems(aio):
                    if problem not in problems:
                        problems.append(problem)
                        log('compat: cluster: %s' % problem)
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    return proc.returncode


def summary_line(log_path):
    """pytest's closing '== ... in Ns ==' line, if any."""
    last = None
    try:
        with open(log_path, errors='replace') as fp:
            for line in fp:
                if line.startswith('=') and ' in ' in line and (
                        'passed' in line or 'failed' in line
                        or 'skipped' in line or 'error' in line
                        or 'no tests ran' in line):
                    last = line.strip()
    except OSError:
        pass
    return last


# -- the report ------------------------------------------------------------------
def report(verdict, messages):
    counts = verdict.counts()
    log('per module:')
    table = verdict.per_module()
    width = max([len(m) for m in table] + [6])
    log('  %-*s %7s %7s %7s %7s' % (width, 'module', 'passed', 'failed',
                                    'skipped', 'error'))
    for module in sorted(table):
        row = table[module]
        log('  %-*s %7d %7d %7d %7d' % (width, module, row['passed'],
                                        row['failed'], row['skipped'],
                                        row['error']))
    log('swift suite: passed %(passed)d, failed %(failed)d, '
        'skipped %(skipped)d, error %(error)d' % counts)
    if verdict.new_passes:
        log('')
        log('%d test(s) pass but are not in the expected list; add them '
            'with --update:' % len(verdict.new_passes))
        for test_id in verdict.new_passes:
            log('  NEW PASS %s' % test_id)
    if verdict.not_passing:
        log('')
        log('%d listed test(s) did not pass:' % len(verdict.not_passing))
        for test_id, outcome in sorted(verdict.not_passing.items()):
            message = messages.get(test_id, '')
            log('  %-7s %s%s' % (outcome.upper(), test_id,
                                 ('  -- ' + message) if message else ''))


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='scripts/compat',
        description='Run OpenStack Swift %s\'s functional test suite '
                    'against a fresh objproxy-aio and check that every test '
                    'listed in tests/compat/expected-pass.txt passes.'
                    % SWIFT_VERSION,
        epilog='Extra arguments after "--" go to pytest as they are. Exit '
               'status: 0 every listed test passed, 1 a listed test did '
               'not pass, 2 the run could not be done.')
    parser.add_argument('paths', nargs='*', metavar='PATH',
                        help='run only these suite paths or node ids, '
                             'relative to the sdist (e.g. '
                             'test/functional/tests.py::TestFile); default '
                             'test/functional')
    parser.add_argument('-k', dest='keyword', metavar='EXPR',
                        help='run only the tests matching this pytest -k '
                             'expression')
    parser.add_argument('--update', action='store_true',
                        help='append the tests that pass but are not '
                             'listed to the expected list (it only grows)')
    parser.add_argument('--keep', action='store_true',
                        help='after the run, leave the cluster up (and its '
                             'data dir) for debugging until Ctrl-C')
    parser.add_argument('--port', type=int, default=0,
                        help='proxy port (default: a free one)')
    parser.add_argument('--data-dir', metavar='DIR',
                        help='cluster data dir, must be empty or absent; '
                             'kept afterwards (default: a temporary dir, '
                             'removed at the end)')
    parser.add_argument('--cache-dir', metavar='DIR',
                        default=os.environ.get(CACHE_ENV, DEFAULT_CACHE),
                        help='where the suite and its virtualenv are '
                             'installed on first use (default $%s or %s)'
                             % (CACHE_ENV, DEFAULT_CACHE))
    parser.add_argument('--out-dir', metavar='DIR',
                        help='where test.conf, the junit xml and the pytest '
                             'log go (default CACHE_DIR/out)')
    parser.add_argument('--expected', metavar='FILE',
                        default=DEFAULT_EXPECTED,
                        help='the expected-pass list (default '
                             'tests/compat/expected-pass.txt)')
    parser.add_argument('--no-rerun', action='store_true',
                        help='judge listed tests on the first run, without '
                             'running the ones that did not pass once more')
    parser.add_argument('--pipeline', metavar='NAMES',
                        help='run the cluster with this proxy pipeline '
                             'instead of the default one (e.g. to try a '
                             'filter before it joins the default)')
    parser.add_argument('--no-daemons', action='store_true',
                        help='run the cluster without the replicators, '
                             'auditors and updaters (objproxy-aio runs them)')
    parser.add_argument('--junit', metavar='FILE',
                        help='judge this junit xml of an earlier full run '
                             '(and --update from it) instead of running the '
                             'suite')
    parser.add_argument('--install-only', action='store_true',
                        help='install the suite into the cache and exit')
    argv = list(argv)
    extra = []
    if '--' in argv:
        cut = argv.index('--')
        argv, extra = argv[:cut], argv[cut + 1:]
    args = parser.parse_args(argv)
    args.pytest_args = extra
    args.narrowed = bool(args.paths or args.keyword or extra)
    return args


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    started = time.monotonic()
    reproduce = shlex.join(['scripts/compat'] + argv)

    def on_term(signum, frame):
        raise KeyboardInterrupt
    # a SIGTERM or a closed terminal stops the cluster as Ctrl-C does
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    closing = []
    try:
        status = _main(args, closing)
    except SetupError as err:
        log('compat: %s' % err)
        status = 2
    except KeyboardInterrupt:
        log('compat: interrupted')
        status = 130
    log('compat: reproduce with: %s' % reproduce)
    log('compat: elapsed %.0fs' % (time.monotonic() - started))
    for line in closing:
        log(line)
    return status


def _main(args, closing):
    suite = Suite(args.cache_dir)
    t0 = time.monotonic()
    if suite.ensure():
        log('compat: suite installed in %.0fs' % (time.monotonic() - t0))
    if args.install_only:
        return 0
    if args.junit:
        return judge_only(args, suite, closing)
    out_dir = os.path.abspath(args.out_dir or
                              os.path.join(suite.cache_dir, 'out'))
    os.makedirs(out_dir, exist_ok=True)

    if args.data_dir:
        data_dir = os.path.abspath(args.data_dir)
        if os.path.isdir(data_dir) and os.listdir(data_dir):
            raise SetupError('--data-dir %s is not empty; the suite needs '
                             'a fresh cluster' % data_dir)
        remove_data = False
    else:
        data_dir = tempfile.mkdtemp(prefix='objproxy-compat-')
        remove_data = not args.keep

    aio = None
    try:
        t0 = time.monotonic()
        try:
            aio = start_cluster(data_dir, args.port, not args.no_daemons,
                                args.pipeline)
        except Exception as err:
            raise SetupError('the cluster did not start: %s (logs in '
                             '%s/log)' % (err, data_dir)) from err
        url = aio.proxy_url
        log('compat: objproxy-aio up at %s in %.0fs (data %s)'
            % (url, time.monotonic() - t0, data_dir))
        try:
            prime_accounts(url + '/auth/v1.0', PRIMED_USERS)
        except (OSError, http.client.HTTPException) as err:
            raise SetupError('priming the test accounts failed: %r (logs '
                             'in %s/log)' % (err, data_dir)) from err

        conf = os.path.join(out_dir, 'test.conf')
        with open(conf, 'w') as fp:
            fp.write(TEST_CONF.format(url=url))
        junit = os.path.join(out_dir, 'junit.xml')
        log_path = os.path.join(out_dir, 'pytest.log')
        for stale in (junit, os.path.join(out_dir, 'rerun-junit.xml')):
            if os.path.exists(stale):
                os.unlink(stale)
        selection = list(args.paths) or ['test/functional']
        if args.keyword:
            selection += ['-k', args.keyword]
        selection += args.pytest_args
        cmd = pytest_command(suite, junit, selection)
        env = suite_env(conf)
        problems = []
        log('compat: running the suite (log %s)' % log_path)
        t0 = time.monotonic()
        status = run_pytest(cmd, suite.root, env, log_path, aio, problems)
        log('compat: pytest exited %d after %.0fs: %s'
            % (status, time.monotonic() - t0,
               summary_line(log_path) or '(no summary line)'))
        if status not in (0, 1) or not os.path.exists(junit):
            _tail(log_path)
            raise SetupError('pytest exited with status %d%s; see %s'
                             % (status, '' if os.path.exists(junit)
                                else ' without junit output', log_path))

        results = parse_junit(junit)
        messages = junit_messages(junit)
        expected = read_expected(args.expected)
        verdict = Verdict(results, expected, full_run=not args.narrowed)
        log('')
        report(verdict, messages)

        last_junit = junit
        if verdict.not_passing and not args.no_rerun:
            last_junit = rerun(verdict, suite, out_dir, env, aio, problems,
                               messages) or junit
        show_tracebacks(verdict, last_junit)

        if args.update and verdict.new_passes:
            added = update_expected(args.expected, verdict.new_passes)
            log('compat: added %d test(s) to %s'
                % (len(added), os.path.relpath(args.expected)))
        log('')
        if verdict.not_run:
            log('compat: %d listed test(s) were not selected by this '
                'narrowed run' % verdict.not_run)
        if problems:
            log('compat: the cluster had trouble during the run: %s'
                % '; '.join(problems))
        log('compat: junit %s' % junit)
        if args.keep:
            keep_up(aio, suite, junit, selection, env)
        return finish(verdict, closing)
    finally:
        if aio is not None:
            aio.stop()
        if remove_data:
            shutil.rmtree(data_dir, ignore_errors=True)


def judge_only(args, suite, closing):
    """--junit: compare an earlier run's junit xml, run nothing."""
    if not os.path.isfile(args.junit):
        raise SetupError('no such junit file: %s' % args.junit)
    results = parse_junit(args.junit)
    verdict = Verdict(results, read_expected(args.expected),
                      full_run=not args.narrowed)
    report(verdict, junit_messages(args.junit))
    if args.update and verdict.new_passes:
        added = update_expected(args.expected, verdict.new_passes)
        log('compat: added %d test(s) to %s'
            % (len(added), os.path.relpath(args.expected)))
    return finish(verdict, closing)


def finish(verdict, closing):
    """The closing lines and the exit status."""
    listed_run = len(verdict.expected) - verdict.not_run
    if verdict.ok:
        closing.append('compat: OK, every listed test that ran passed')
    else:
        closing.append('compat: FAILED, %d listed test(s) did not pass'
                       % len(verdict.not_passing))
    # the listed tests, in the plain "N passed, N failed" form
    closing.append('compat: %d passed, %d failed'
                   % (listed_run - len(verdict.not_passing),
                      len(verdict.not_passing)))
    return 0 if verdict.ok else 1


def rerun(verdict, suite, out_dir, env, aio, problems, messages):
    """Run the listed tests that did not pass once more, in a pytest of
    their own; those that pass then are forgiven (and named)."""
    ids = sorted(verdict.not_passing)
    if len(ids) >= MAX_RERUN:
        log('compat: %d listed tests did not pass; not re-running them '
            '(re-runs are for the odd flaky test)' % len(ids))
        return None
    nodes = [n for n in (node_id(t, suite.root) for t in ids) if n]
    if not nodes:
        return None
    log('')
    log('compat: re-running %d listed test(s) that did not pass, on their '
        'own, once' % len(nodes))
    junit = os.path.join(out_dir, 'rerun-junit.xml')
    log_path = os.path.join(out_dir, 'rerun-pytest.log')
    status = run_pytest(pytest_command(suite, junit, nodes), suite.root, env,
                        log_path, aio, problems)
    log('compat: re-run: pytest exited %d: %s'
        % (status, summary_line(log_path) or '(no summary line)'))
    if not os.path.exists(junit):
        return None
    rerun_messages = junit_messages(junit)
    for test_id in verdict.rerun_passed(parse_junit(junit)):
        log('  FLAKY   %s passed when re-run on its own (first run: %s)'
            % (test_id, messages.get(test_id, '')))
    for test_id, outcome in sorted(verdict.not_passing.items()):
        log('  %-7s %s again when re-run%s'
            % (outcome.upper(), test_id,
               ('  -- ' + rerun_messages[test_id])
               if rerun_messages.get(test_id) else ''))
    return junit


def keep_up(aio, suite, junit, selection, env):
    log('')
    log('compat: --keep: the cluster stays up at %s until Ctrl-C'
        % aio.proxy_url)
    log('  logs:    %s/log' % aio.data_dir)
    log('  swift:   .venv/bin/swift -A %s/auth/v1.0 -U test:tester '
        '-K testing stat' % aio.proxy_url)
    log('  suite:   cd %s && SWIFT_TEST_CONFIG_FILE=%s %s'
        % (shlex.quote(suite.root), shlex.quote(env['SWIFT_TEST_CONFIG_FILE']),
           shlex.join(pytest_command(suite, junit, selection))))
    try:
        while True:
            time.sleep(1)
            news = aio.supervise()
            if news:
                log('compat: cluster: %s' % news)
            dead = sorted(name for name, proc in aio.procs.items()
                          if proc.poll() is not None)
            if dead:
                log('compat: cluster: %s exited; stopping' % ', '.join(dead))
                return
    except KeyboardInterrupt:
        log('compat: stopping the cluster; its data dir %s is kept'
            % aio.data_dir)


def _tail(path, lines=30):
    try:
        with open(path, errors='replace') as fp:
            for line in fp.read().splitlines()[-lines:]:
                log('  | ' + line)
    except OSError:
        pass


if __name__ == '__main__':
    sys.exit(main())
