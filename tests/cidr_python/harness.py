"""Answers netkit's differential test cases with Python's ipaddress.

Reads a JSON array of cases on stdin, writes a JSON array of answers on stdout, one
answer per case, in the shape tests/cidr_python.rs builds from netkit's answers.
"""
import ipaddress as I
import itertools
import json
import sys

HOST_BITS = " has host bits set"


def err(e):
    msg = str(e)
    if isinstance(e, ValueError) and msg.endswith(HOST_BITS):
        return {"error": "host bits: " + msg[: -len(HOST_BITS)]}
    return {"error": "error"}


def s(x):
    return None if x is None else str(x)


def addr_props(a):
    site = getattr(a, "is_site_local", None) if a.version == 6 else None
    return [a.is_private, a.is_global, a.is_multicast, a.is_loopback,
            a.is_link_local, a.is_reserved, a.is_unspecified, site]


def net_props(n):
    site = n.is_site_local if n.version == 6 else None
    return [n.is_private, n.is_global, n.is_multicast, n.is_loopback,
            n.is_link_local, n.is_reserved, n.is_unspecified, site]


def addr_answer(a):
    try:
        exploded = a.exploded
    except ValueError:  # Python can't explode a scoped address
        exploded = None
    out = {"str": str(a), "version": a.version, "exploded": exploded, "props": addr_props(a)}
    if a.version == 6:
        t = a.teredo
        out.update(scope=a.scope_id, mapped=s(a.ipv4_mapped), sixtofour=s(a.sixtofour),
                   teredo=None if t is None else [str(t[0]), str(t[1])])
    return out


def net_answer(n):
    try:
        exploded = n.exploded
    except ValueError:  # Python can't explode a scoped network
        exploded = None
    return {
        "str": str(n), "version": n.version, "network_address": str(n.network_address),
        "broadcast": str(n.broadcast_address), "netmask": str(n.netmask),
        "hostmask": str(n.hostmask), "prefixlen": n.prefixlen,
        "num_addresses": str(n.num_addresses), "with_netmask": n.with_netmask,
        "with_hostmask": n.with_hostmask, "exploded": exploded, "props": net_props(n),
    }


def listing(it, num):
    if num <= 64:
        return [str(x) for x in it]
    return [str(x) for x in itertools.islice(it, 5)]


def run(c):
    op = c["op"]
    if op == "addr":
        return addr_answer(I.ip_address(c["s"]))
    if op == "net":
        return net_answer(I.ip_network(c["s"], strict=c["strict"]))
    if op == "iface":
        i = I.ip_interface(c["s"])
        out = addr_answer(i)
        out.update(str=str(i), ip=str(i.ip), network=str(i.network), prefixlen=i.network.prefixlen)
        return out
    n = I.ip_network(c["net"], strict=c.get("strict", True))
    if op == "list":
        return {"all": listing(iter(n), n.num_addresses), "hosts": listing(n.hosts(), n.num_addresses)}
    if op == "index":
        out = []
        for i in c["idx"]:
            try:
                out.append(str(n[int(i)]))
            except IndexError:
                out.append(None)
        return out
    if op == "contains":
        return [I.ip_address(a) in n for a in c["addrs"]]
    if op == "subnets":
        if "new_prefix" in c:
            it = n.subnets(new_prefix=c["new_prefix"])
        else:
            it = n.subnets(prefixlen_diff=c["diff"])
        return [str(x) for x in itertools.islice(it, 20)]
    if op == "supernet":
        if "new_prefix" in c:
            return str(n.supernet(new_prefix=c["new_prefix"]))
        return str(n.supernet(prefixlen_diff=c["diff"]))
    if op == "exclude":
        m = I.ip_network(c["other"])
        return [str(x) for x in sorted(n.address_exclude(m))]
    if op == "overlaps":
        m = I.ip_network(c["other"])
        return [n.overlaps(m), n.subnet_of(m), n.supernet_of(m)]
    raise ValueError("unknown op " + op)


def run_other(c):
    op = c["op"]
    if op == "collapse":
        return [str(x) for x in I.collapse_addresses(I.ip_network(t) for t in c["nets"])]
    if op == "range":
        return [str(x) for x in I.summarize_address_range(I.ip_address(c["first"]), I.ip_address(c["last"]))]
    return run(c)


def answer(c):
    try:
        return run_other(c)
    except (ValueError, TypeError) as e:
        return err(e)


cases = json.load(sys.stdin)
json.dump([answer(c) for c in cases], sys.stdout)
