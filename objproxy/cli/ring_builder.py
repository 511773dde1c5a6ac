"""objproxy-ring-builder: swift-ring-builder's command line on our builder.

Operators already know swift-ring-builder, so the syntax and exit codes are
the same: 0 success, 1 warning (e.g. nothing to rebalance, poor balance),
2 error.  Every error is one clear line on stderr, never a traceback, and a
failed command never damages the builder or ring file on disk (writes are
atomic, and nothing is written before a command has succeeded).

Safety, as swift-ring-builder: ``create`` will not overwrite an existing
builder unless given ``--force``, and every builder or ring file written is
also copied to ``backups/<unix time>.<name>`` beside the builder, so any
earlier state can be restored by copying it back.  The file a command
overwrites is copied there first too (objproxy.ring.backups), so a state
written by another tool (objproxy-aio, a copy from elsewhere) survives a
``create --force``.
"""
import argparse
import os
import re
import sys
import time

from objproxy.common.exceptions import RingError
from objproxy.ring import backups
from objproxy.ring.builder import RingBuilder
from objproxy.ring.placement import format_replicas

EXIT_SUCCESS = 0
EXIT_WARNING = 1
EXIT_ERROR = 2

USAGE = '''\
usage: objproxy-ring-builder <builder_file> [<command> [args...]]

commands:
  (none)                         show devices, balance and dispersion
  create <part_power> <replicas> <min_part_hours> [--force]
  add r<region>z<zone>-<ip>:<port>/<device>[_<meta>] <weight> [...]
  add --region R --zone Z --ip IP --port P --device D --weight W [--meta M]
  remove <search> [...]
  set_weight <search> <weight> [...]
  set_info <search> [<ip>][:<port>][/<device>][_<meta>]
  set_min_part_hours <hours>
  search <search>
  list_parts <search> [...]
  rebalance [--seed N] [--force]
  write_ring
  validate
  pretend_min_part_hours_passed
  dispersion
search values: d<id>r<region>z<zone>-<ip>:<port>/<device>_<meta>, any part
'''

_DEV_RE = re.compile(
    r'^(?:r(?P<region>\d+))?z(?P<zone>\d+)-'
    r'(?P<ip>\[[0-9a-fA-F:.]+\]|[^:/\s\[\]]+):(?P<port>\d+)'
    r'(?:R(?:\[[0-9a-fA-F:.]+\]|[^:/\s]+):\d+)?'
    r'/(?P<device>[^_\s/]+)(?:_(?P<meta>.*))?$')


#: The option form of ``add``: (option, help).  region and meta are
#: optional (region 1, no meta).
ADD_OPTIONS = (
    ('region', 'region number (default 1)'),
    ('zone', 'zone number'),
    ('ip', "the node's IP address"),
    ('port', "the node's port"),
    ('device', 'device name under the devices root, e.g. sdb1'),
    ('weight', 'relative share of partitions, e.g. 100'),
    ('meta', 'free-form note kept with the device'),
)


class CommandError(Exception):
    """A user error: print the message, exit 2."""


def _out(text=''):
    sys.stdout.write(text + '\n')


def parse_dev(text, weight):
    match = _DEV_RE.match(text)
    if not match:
        raise CommandError('invalid device %r; expected '
                           'r<region>z<zone>-<ip>:<port>/<device>[_<meta>]'
                           % text)
    dev = match.groupdict()
    return {'region': int(dev['region'] or 1), 'zone': int(dev['zone']),
            'ip': dev['ip'].strip('[]'), 'port': int(dev['port']),
            'device': dev['device'], 'meta': dev['meta'] or '',
            'weight': parse_weight(weight)}


def parse_weight(text):
    try:
        weight = float(text)
    except (TypeError, ValueError):
        raise CommandError('invalid weight %r; expected a number' % (text,))
    if not weight >= 0 or weight == float('inf'):
        raise CommandError('invalid weight %r; must be >= 0' % (text,))
    return weight


def parse_int(text, name):
    try:
        return int(text)
    except (TypeError, ValueError):
        raise CommandError('invalid %s %r; expected a whole number'
                           % (name, text))


def ring_file_for(builder_file):
    base = builder_file[:-len('.builder')] \
        if builder_file.endswith('.builder') else builder_file
    return base + '.ring.gz'


def _dev_line(dev, counts, balances):
    return ('%5d %6d %4d %15s %5d %12s %8.2f %10d %7.2f %s' % (
        dev['id'], dev['region'], dev['zone'], dev['ip'], dev['port'],
        dev['device'], dev['weight'], counts.get(dev['id'], 0),
        balances.get(dev['id'], 0.0), dev['meta']))


DEV_HEADER = ('   id region zone              ip  port         name   weight '
              'partitions balance meta')


class Commands(object):
    def __init__(self, builder_file, args):
        self.builder_file = builder_file
        self.args = args

    # helpers
    def load(self):
        return RingBuilder.load(self.builder_file)

    def save(self, builder):
        backups.replace(self.builder_file, builder.save)

    def write_ring_file(self, builder):
        backups.replace(ring_file_for(self.builder_file), builder.write_ring)

    def search_one_or_more(self, builder, search):
        devs = builder.search_devs(search)
        if not devs:
            raise CommandError('search value %r matched no devices' % search)
        return devs

    # commands
    def default(self):
        builder = self.load()
        counts = builder.dev_counts()
        balances = builder.dev_balances(counts)
        devs = [d for d in builder.devs if d is not None]
        regions = len({d['region'] for d in devs})
        zones = len({(d['region'], d['zone']) for d in devs})
        report = builder.dispersion_report()
        _out('%s, build version %d' % (self.builder_file, builder.version))
        _out('%d partitions, %s replicas, %d regions, %d zones, %d devices, '
             '%.2f balance, %.2f dispersion' % (
                 builder.parts, '%f' % builder.replicas, regions, zones,
                 len(devs), builder.get_balance(), report['dispersion']))
        left = builder.min_part_seconds_left()
        _out('The minimum number of hours before a partition can be '
             'reassigned is %d (%s remaining)' % (
                 builder.min_part_hours,
                 time.strftime('%H:%M:%S', time.gmtime(left))))
        ring_file = ring_file_for(self.builder_file)
        if builder._replica2part2dev is None:
            _out('Ring file %s not found; the builder has not been '
                 'rebalanced' % ring_file)
        elif not os.path.exists(ring_file):
            _out('Ring file %s not found, probably it hasn\'t been written '
                 'yet' % ring_file)
        _out('Devices:')
        _out(DEV_HEADER)
        for dev in devs:
            _out(_dev_line(dev, counts, balances))
        if builder._remove_pending:
            _out('Pending removal: %s' % ', '.join(
                str(i) for i in sorted(builder._remove_pending)))
        return EXIT_SUCCESS

    def create(self):
        force = '--force' in self.args or '-f' in self.args
        self.args = [a for a in self.args if a not in ('--force', '-f')]
        if len(self.args) != 3:
            raise CommandError('usage: create <part_power> <replicas> '
                               '<min_part_hours> [--force]')
        part_power = parse_int(self.args[0], 'part_power')
        try:
            replicas = float(self.args[1])
        except ValueError:
            raise CommandError('invalid replicas %r' % self.args[1])
        min_part_hours = parse_int(self.args[2], 'min_part_hours')
        builder = RingBuilder(part_power, replicas, min_part_hours)
        if os.path.exists(self.builder_file) and not force:
            raise CommandError('%s already exists; refusing to overwrite it '
                               '(add --force to start over; earlier states '
                               'are in backups/)' % self.builder_file)
        directory = os.path.dirname(os.path.abspath(self.builder_file))
        if not os.path.isdir(directory):
            raise CommandError('directory %s does not exist' % directory)
        self.save(builder)
        return EXIT_SUCCESS

    def add(self):
        devs = []
        if self.args and self.args[0].startswith('--'):
            parser = _ArgParser(prog='add')
            for name, text in ADD_OPTIONS:
                parser.add_argument('--' + name, help=text,
                                    required=name not in ('region', 'meta'),
                                    default={'region': '1', 'meta': ''}.get(
                                        name))
            opts = parser.parse_args(self.args)
            devs.append({'region': parse_int(opts.region, 'region'),
                         'zone': parse_int(opts.zone, 'zone'),
                         'ip': opts.ip.strip('[]'),
                         'port': parse_int(opts.port, 'port'),
                         'device': opts.device, 'meta': opts.meta,
                         'weight': parse_weight(opts.weight)})
        else:
            if not self.args or len(self.args) % 2:
                raise CommandError('usage: add r<region>z<zone>-<ip>:<port>'
                                   '/<device>[_<meta>] <weight> [...]')
            for i in range(0, len(self.args), 2):
                devs.append(parse_dev(self.args[i], self.args[i + 1]))
        builder = self.load()
        for dev in devs:
            dev_id = builder.add_dev(dev)
            _out('Device d%dr%dz%d-%s:%d/%s_"%s" with %s weight got id %d' % (
                dev_id, dev['region'], dev['zone'], dev['ip'], dev['port'],
                dev['device'], dev['meta'], dev['weight'], dev_id))
        self.save(builder)
        return EXIT_SUCCESS

    def remove(self):
        if not self.args:
            raise CommandError('usage: remove <search> [...]')
        builder = self.load()
        for search in self.args:
            for dev in self.search_one_or_more(builder, search):
                builder.remove_dev(dev['id'])
                _out('d%d %s:%d/%s marked for removal and will be removed '
                     'next rebalance.' % (dev['id'], dev['ip'], dev['port'],
                                          dev['device']))
        self.save(builder)
        return EXIT_SUCCESS

    def set_weight(self):
        if not self.args or len(self.args) % 2:
            raise CommandError('usage: set_weight <search> <weight> [...]')
        builder = self.load()
        for i in range(0, len(self.args), 2):
            weight = parse_weight(self.args[i + 1])
            for dev in self.search_one_or_more(builder, self.args[i]):
                builder.set_dev_weight(dev['id'], weight)
                _out('d%d %s:%d/%s weight set to %s' % (
                    dev['id'], dev['ip'], dev['port'], dev['device'],
                    weight))
        self.save(builder)
        return EXIT_SUCCESS

    def set_info(self):
        if not self.args or len(self.args) % 2:
            raise CommandError('usage: set_info <search> '
                               '[<ip>][:<port>][/<device>][_<meta>] [...]')
        builder = self.load()
        for i in range(0, len(self.args), 2):
            match = re.match(r'^(?P<ip>\[[0-9a-fA-F:.]+\]|[^:/_\s]+)?'
                             r'(?::(?P<port>\d+))?(?:/(?P<device>[^_\s/]+))?'
                             r'(?:_(?P<meta>.*))?$', self.args[i + 1])
            if not match or not any(v is not None
                                    for v in match.groupdict().values()):
                raise CommandError('invalid change value %r'
                                   % self.args[i + 1])
            change = {k: v for k, v in match.groupdict().items()
                      if v is not None}
            if 'port' in change:
                change['port'] = int(change['port'])
            if 'ip' in change:
                change['ip'] = change['ip'].strip('[]')
            devs = self.search_one_or_more(builder, self.args[i])
            if len(devs) > 1 and ({'ip', 'port', 'device'} & set(change)):
                raise CommandError('search value %r matched %d devices; an '
                                   'address change needs exactly one'
                                   % (self.args[i], len(devs)))
            for dev in devs:
                builder.set_dev_info(dev['id'], **change)
                _out('Device d%d now %s:%d/%s_"%s"' % (
                    dev['id'], dev['ip'], dev['port'], dev['device'],
                    dev['meta']))
        self.save(builder)
        return EXIT_SUCCESS

    def set_min_part_hours(self):
        if len(self.args) != 1:
            raise CommandError('usage: set_min_part_hours <hours>')
        hours = parse_int(self.args[0], 'min_part_hours')
        if not 0 <= hours <= 255:
            raise CommandError('min_part_hours must be 0-255')
        builder = self.load()
        builder.min_part_hours = hours
        self.save(builder)
        _out('The minimum number of hours before a partition can be '
             'reassigned is now set to %d' % hours)
        return EXIT_SUCCESS

    def search(self):
        if len(self.args) != 1:
            raise CommandError('usage: search <search>')
        builder = self.load()
        devs = self.search_one_or_more(builder, self.args[0])
        counts = builder.dev_counts()
        balances = builder.dev_balances(counts)
        _out('Devices:')
        _out(DEV_HEADER)
        for dev in devs:
            _out(_dev_line(dev, counts, balances))
        return EXIT_SUCCESS

    def list_parts(self):
        if not self.args:
            raise CommandError('usage: list_parts <search> [...]')
        builder = self.load()
        if builder._replica2part2dev is None:
            raise CommandError('the builder has not been rebalanced yet')
        ids = set()
        for search in self.args:
            ids.update(d['id'] for d in self.search_one_or_more(builder,
                                                                search))
        _out('Partition   Matches')
        for part, hits in builder.list_parts(ids):
            _out('%9d   %7d' % (part, hits))
        return EXIT_SUCCESS

    def rebalance(self):
        parser = _ArgParser(prog='rebalance')
        parser.add_argument('--seed', '-s',
                            help='random seed, for a repeatable placement')
        parser.add_argument('--force', '-f', action='store_true',
                            help='save even if the balance changed by '
                                 'less than 1%%')
        opts = parser.parse_args(self.args)
        seed = None if opts.seed is None else parse_int(opts.seed, 'seed')
        builder = self.load()
        had_table = builder._replica2part2dev is not None
        changed = builder.devs_changed
        old_balance = builder.get_balance() \
            if had_table and not changed else None
        start = time.time()

        def progress(message):
            sys.stderr.write('[%6.2fs] %s\n' % (time.time() - start,
                                                message))
            sys.stderr.flush()
        # progress lines only for a person watching a long rebalance
        big = (builder.parts * builder.replicas >= 100000 and
               sys.stderr.isatty())
        moved, balance, removed = builder.rebalance(
            seed=seed, progress=progress if big else None)
        if had_table and moved == 0 and not removed:
            _out('No partitions could be reassigned. Either none need to be '
                 'or none can be due to min_part_hours [%d].'
                 % builder.min_part_hours)
            return EXIT_WARNING
        if had_table and not changed and not opts.force and (
                moved == 0 or abs(old_balance - balance) < 1):
            _out('Cowardly refusing to save rebalance as it did not change '
                 'at least 1%.')
            return EXIT_WARNING
        report = builder.dispersion_report()
        self.save(builder)
        self.write_ring_file(builder)
        _out('Reassigned %d (%.2f%%) partitions. Balance is now %.2f.  '
             'Dispersion is now %.2f' % (
                 moved, 100.0 * moved / builder.parts, balance,
                 report['dispersion']))
        if removed:
            _out('Removed %d device(s).' % removed)
        if balance > 5:
            _out('NOTE: Balance of %.2f indicates you should push this ring,'
                 ' wait at least %d hours, and rebalance/repush.'
                 % (balance, builder.min_part_hours))
            return EXIT_WARNING
        return EXIT_SUCCESS

    def write_ring(self):
        builder = self.load()
        if builder._replica2part2dev is None:
            raise CommandError('the builder has not been rebalanced yet; '
                               'run rebalance first')
        self.write_ring_file(builder)
        return EXIT_SUCCESS

    def validate(self):
        builder = self.load()
        builder.validate()
        _out('Builder %s is valid' % self.builder_file)
        return EXIT_SUCCESS

    def pretend_min_part_hours_passed(self):
        builder = self.load()
        builder.pretend_min_part_hours_passed()
        self.save(builder)
        return EXIT_SUCCESS

    def dispersion(self):
        builder = self.load()
        if builder._replica2part2dev is None:
            raise CommandError('the builder has not been rebalanced yet')
        report = builder.dispersion_report()
        _out('Dispersion is %.2f, Balance is %.2f' % (
            report['dispersion'], builder.get_balance()))
        _out('Required replicas per partition: %s' %
             format_replicas(builder.replicas))
        _out('%-8s %12s %22s' % ('Tier', 'Max replicas',
                                 'Partitions over max'))
        for name in ('region', 'zone', 'server', 'device'):
            _out('%-8s %12s %22d' % (
                name, report.get('max_replicas', {}).get(name, '-'),
                report['levels'].get(name, 0)))
        return EXIT_SUCCESS


class _ArgParser(argparse.ArgumentParser):
    def error(self, message):
        raise CommandError('%s: %s' % (self.prog, message))


COMMANDS = ('create', 'add', 'remove', 'set_weight', 'set_info',
            'set_min_part_hours', 'search', 'list_parts', 'rebalance',
            'write_ring', 'validate', 'pretend_min_part_hours_passed',
            'dispersion', 'default')


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ('-h', '--help'):
        sys.stdout.write(USAGE)
        return EXIT_SUCCESS if argv else EXIT_ERROR
    builder_file = argv[0]
    command = argv[1] if len(argv) > 1 else 'default'
    if command not in COMMANDS:
        sys.stderr.write('Unknown command: %s\n%s' % (command, USAGE))
        return EXIT_ERROR
    commands = Commands(builder_file, argv[2:])
    try:
        return getattr(commands, command)()
    except (CommandError, RingError) as err:
        sys.stderr.write('Error: %s\n' % err)
        return EXIT_ERROR
    except OSError as err:
        sys.stderr.write('Error: %s: %s\n' % (
            getattr(err, 'filename', '') or builder_file,
            err.strerror or err))
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write('Interrupted\n')
        return EXIT_ERROR


if __name__ == '__main__':
    sys.exit(main())
