"""Small ring topologies shared by the ring tests."""
from objproxy.ring.builder import RingBuilder


def make_builder(part_power=8, replicas=3, min_part_hours=1, zones=4,
                 servers=2, disks=2, region=1, weight=100):
    builder = RingBuilder(part_power, replicas, min_part_hours)
    for zone in range(1, zones + 1):
        add_server(builder, region, zone, '10.%d.%d.1' % (region, zone),
                   disks, weight)
        for server in range(2, servers + 1):
            add_server(builder, region, zone,
                       '10.%d.%d.%d' % (region, zone, server), disks, weight)
    return builder


def add_server(builder, region, zone, ip, disks, weight=100):
    return [builder.add_dev({'region': region, 'zone': zone, 'ip': ip,
                             'port': 6200, 'device': 'd%d' % disk,
                             'weight': weight, 'meta': ''})
            for disk in range(disks)]


def rows(builder):
    return list(builder._rows())


def zones_of(builder, row):
    return [(builder.devs[d]['region'], builder.devs[d]['zone'])
            for d in row]
