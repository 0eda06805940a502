"""Network namespaces for tests that give a VMM a TAP (not a test module).

A test that needs a TAP makes a namespace of its own, creates the TAP in
it, and starts the VMM inside it, so that nothing it does is seen by the
host's own network and everything goes away with the namespace:

    reason = netns.skip_reason()     # None, or why it cannot be done here
    ns = netns.NetNs()               # `ip netns add squib-<pid>-<n>`
    ns.tap("tap0", "192.168.241.1/24")
    binary = ns.wrap(SQUIB, tmp_path)  # a launcher running SQUIB inside ns
    proc = ns.popen(["python3", "-c", ...])  # a host-side peer inside ns
    ns.close()                        # `ip netns del`: TAPs and all

When nothing else has to run inside the namespace, private_prefix() is
simpler: squib itself is started under `unshare -n`, the TAP is made inside
right before squib is exec'd, and the namespace ends with the process:

    s = squib_factory(prefix=netns.private_prefix("sqtap0", "192.168.241.1/24"))

The API socket is a path in the file system, which every namespace reaches.
"""
import itertools
import os
import shutil
import subprocess

_counter = itertools.count()


def skip_reason():
    """None when this process can make namespaces and TAPs, else why not."""
    if os.geteuid() != 0:
        return "network namespaces and TAPs need root"
    if not shutil.which("ip"):
        return "the ip command is missing (Debian package iproute2)"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing"
    name = "squib-probe-%d" % os.getpid()
    p = subprocess.run(["ip", "netns", "add", name], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    if p.returncode != 0:
        return "cannot make a network namespace: " + p.stdout.decode().strip()
    subprocess.run(["ip", "netns", "del", name], check=False)
    return None


def private_prefix(tap, cidr, mac=None):
    """A Squib `prefix`: run squib in a new network namespace of its own
    with TAP `tap` (host address `cidr`, and MAC address `mac` when given)
    up in it."""
    setmac = "ip link set %s address %s; " % (tap, mac) if mac else ""
    setup = ('set -e; ip link set lo up; ip tuntap add dev %s mode tap; %s'
             'ip addr add %s dev %s; ip link set %s up; exec "$@"'
             % (tap, setmac, cidr, tap, tap))
    return ["unshare", "-n", "sh", "-c", setup, "sh"]


class NetNs:
    def __init__(self):
        self.name = "squib-%d-%d" % (os.getpid(), next(_counter))
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.run(["ip", "link", "set", "lo", "up"])

    def run(self, args, **kw):
        """Run args inside the namespace; raise on failure."""
        return subprocess.run(["ip", "netns", "exec", self.name] + list(args),
                              check=True, **kw)

    def popen(self, args, **kw):
        return subprocess.Popen(["ip", "netns", "exec", self.name] + list(args), **kw)

    def tap(self, name, cidr):
        """A persistent TAP `name` with the host address `cidr`, up."""
        self.run(["ip", "tuntap", "add", "dev", name, "mode", "tap"])
        self.run(["ip", "addr", "add", cidr, "dev", name])
        self.run(["ip", "link", "set", name, "up"])

    def wrap(self, binary, directory):
        """A launcher script in `directory` that execs `binary` (with its
        arguments) inside the namespace; the process keeps its pid."""
        path = os.path.join(str(directory), "in-%s" % self.name)
        with open(path, "w") as f:
            f.write('#!/bin/sh\nexec ip netns exec %s %s "$@"\n'
                    % (self.name, binary))
        os.chmod(path, 0o755)
        return path

    def close(self):
        subprocess.run(["ip", "netns", "del", self.name], check=False)
