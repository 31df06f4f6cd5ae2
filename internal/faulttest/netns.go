package faulttest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Netns is a network namespace of the test's own, joined to the host by a
// veth pair: HostIP is the host's end, IP the namespace's. Listeners made
// with Listen live in the namespace, so a server on the host reaches them
// over the link, through the faults applied to it. Faults are set on the
// link's two ends and by iptables rules inside the namespace: deleting the
// namespace when the test ends removes them all, and the host is never
// touched.
//
// tc's netem (delay, loss, reordering) is used when the kernel has it. Some
// kernels (a Firecracker guest, for one) have no sch_netem; then loss is
// iptables' random DROP, delay a slow link (tbf, 64 kbit/s), and
// reordering a slow lane (htb) that iptables sends a random quarter of the
// namespace's packets through. Mode says which.
type Netns struct {
	Name, HostIP, IP string
	hostIf, nsIf     string
	netem            bool
}

var netnsSeq atomic.Int32

// NewNetns makes a namespace for t, deleted (with its link and every fault)
// when t ends.
func NewNetns(t testing.TB) *Netns {
	t.Helper()
	requireRoot(t, "network namespaces")
	for _, tool := range []string{"ip", "tc", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			unavailable(t, "%s is not installed (iproute2, iptables)", tool)
		}
	}
	seq := netnsSeq.Add(1)
	id := os.Getpid()%10000*100 + int(seq)%100 // interface names have at most 15 bytes
	n := &Netns{
		Name:   fmt.Sprintf("autohook-%d-%d", os.Getpid(), seq),
		hostIf: fmt.Sprintf("ahk%dh", id),
		nsIf:   fmt.Sprintf("ahk%dn", id),
		HostIP: fmt.Sprintf("10.%d.%d.1", 200+os.Getpid()%50, seq%250),
		IP:     fmt.Sprintf("10.%d.%d.2", 200+os.Getpid()%50, seq%250),
	}
	if out, err := run("ip", "netns", "add", n.Name); err != nil {
		unavailable(t, "cannot make a network namespace (%v): %s", err, out)
	}
	t.Cleanup(func() {
		if _, err := run("ip", "netns", "del", n.Name); err != nil {
			t.Errorf("delete network namespace: %v", err)
		}
	})
	must(t, "ip", "link", "add", n.hostIf, "type", "veth", "peer", "name", n.nsIf)
	must(t, "ip", "link", "set", n.nsIf, "netns", n.Name)
	must(t, "ip", "addr", "add", n.HostIP+"/24", "dev", n.hostIf)
	must(t, "ip", "link", "set", n.hostIf, "up")
	n.exec(t, "ip", "addr", "add", n.IP+"/24", "dev", n.nsIf)
	n.exec(t, "ip", "link", "set", n.nsIf, "up")
	n.exec(t, "ip", "link", "set", "lo", "up")
	if _, err := n.try("tc", "qdisc", "add", "dev", n.nsIf, "root", "netem", "delay", "1ms"); err == nil {
		n.netem = true
		n.exec(t, "tc", "qdisc", "del", "dev", n.nsIf, "root")
	}
	return n
}

// Mode says how faults are made: "netem", or "iptables+tbf+htb" without it.
func (n *Netns) Mode() string {
	if n.netem {
		return "netem"
	}
	return "iptables+tbf+htb (no sch_netem in this kernel)"
}

// Listen listens on a TCP port of the namespace's address, from inside the
// namespace: the socket stays there however it is used.
func (n *Netns) Listen(t testing.TB) net.Listener {
	t.Helper()
	type result struct {
		l   net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// The thread enters the namespace to make the socket; if it cannot
		// come back, it stays locked and ends with this goroutine.
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer home.Close()
		target, err := os.Open("/var/run/netns/" + n.Name)
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, fmt.Errorf("setns: %w", err)}
			return
		}
		l, err := net.Listen("tcp", n.IP+":0")
		if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{l, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("listen in %s: %v", n.Name, r.err)
	}
	t.Cleanup(func() { r.l.Close() })
	return r.l
}

// Loss drops percent % of the packets, both ways.
func (n *Netns) Loss(t testing.TB, percent int) {
	t.Helper()
	if n.netem {
		n.tcBoth(t, "qdisc", "replace", "dev", dev, "root", "netem", "loss", strconv.Itoa(percent)+"%")
		return
	}
	prob := strconv.FormatFloat(float64(percent)/100, 'f', 3, 64)
	for _, chain := range []string{"INPUT", "OUTPUT"} {
		n.exec(t, "iptables", "-A", chain, "-p", "tcp", "-m", "statistic", "--mode", "random", "--probability", prob, "-j", "DROP")
	}
}

// Delay delays every packet, both ways: d (and up to jitter more) with
// netem, else the link is slowed to 64 kbit/s (queueing delay that grows
// with the traffic).
func (n *Netns) Delay(t testing.TB, d, jitter time.Duration) {
	t.Helper()
	if n.netem {
		n.tcBoth(t, "qdisc", "replace", "dev", dev, "root", "netem", "delay", d.String(), jitter.String())
		return
	}
	n.tcBoth(t, "qdisc", "replace", "dev", dev, "root", "tbf", "rate", "64kbit", "burst", "1600", "latency", "10s")
}

// Reorder sends about a quarter of the packets late, so that they arrive
// after later ones: netem's reorder both ways, else a slow lane for the
// namespace's packets (the answers).
func (n *Netns) Reorder(t testing.TB) {
	t.Helper()
	if n.netem {
		n.tcBoth(t, "qdisc", "replace", "dev", dev, "root", "netem", "delay", "30ms", "reorder", "25%", "50%")
		return
	}
	n.exec(t, "tc", "qdisc", "replace", "dev", n.nsIf, "root", "handle", "1:", "htb", "default", "10")
	n.exec(t, "tc", "class", "add", "dev", n.nsIf, "parent", "1:", "classid", "1:10", "htb", "rate", "1gbit")
	n.exec(t, "tc", "class", "add", "dev", n.nsIf, "parent", "1:", "classid", "1:20", "htb", "rate", "200kbit", "ceil", "200kbit")
	n.exec(t, "iptables", "-t", "mangle", "-A", "POSTROUTING", "-o", n.nsIf, "-m", "statistic", "--mode", "random", "--probability", "0.25",
		"-j", "CLASSIFY", "--set-class", "1:20")
}

// dev stands for the link's device in tcBoth's arguments.
const dev = "<dev>"

// tcBoth runs tc on both ends of the link, dev in args standing for each
// end's device.
func (n *Netns) tcBoth(t testing.TB, args ...string) {
	t.Helper()
	on := func(name string) []string {
		out := make([]string, len(args))
		for i, a := range args {
			if a == dev {
				a = name
			}
			out[i] = a
		}
		return out
	}
	n.exec(t, append([]string{"tc"}, on(n.nsIf)...)...)
	must(t, "tc", on(n.hostIf)...)
}

// Blackhole drops every TCP packet to the namespace: connections time out.
func (n *Netns) Blackhole(t testing.TB) {
	t.Helper()
	n.exec(t, "iptables", "-A", "INPUT", "-p", "tcp", "-j", "DROP")
}

// DropAnswers drops the TCP packets that carry data from the namespace
// (PSH set): connections open and requests arrive, their answers never do.
func (n *Netns) DropAnswers(t testing.TB) {
	t.Helper()
	n.exec(t, "iptables", "-A", "OUTPUT", "-p", "tcp", "--tcp-flags", "PSH", "PSH", "-j", "DROP")
}

// Reset answers every TCP packet to the namespace with a reset: new
// connections are refused, open ones broken.
func (n *Netns) Reset(t testing.TB) {
	t.Helper()
	n.exec(t, "iptables", "-A", "INPUT", "-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset")
}

// Clear removes every fault.
func (n *Netns) Clear(t testing.TB) {
	t.Helper()
	n.exec(t, "iptables", "-F")
	n.exec(t, "iptables", "-t", "mangle", "-F")
	_, _ = n.try("tc", "qdisc", "del", "dev", n.nsIf, "root")
	_, _ = run("tc", "qdisc", "del", "dev", n.hostIf, "root")
}

// exec runs a command inside the namespace, failing the test if it fails.
func (n *Netns) exec(t testing.TB, args ...string) string {
	t.Helper()
	return must(t, "ip", append([]string{"netns", "exec", n.Name}, args...)...)
}

func (n *Netns) try(args ...string) (string, error) {
	return run("ip", append([]string{"netns", "exec", n.Name}, args...)...)
}
