// Package lab starts real test hosts on one Linux machine: each host is a
// network namespace with its own netfilter tables, conntrack, hostname,
// /etc/iptables (or RHEL-like /etc/sysconfig and os-release) and its own
// OpenSSH sshd, joined to the root namespace by a veth pair on a bridge.
// It needs root. The Go tests of other packages start one lab in TestMain
// (see the labtest subpackage); "estab lab up/down" starts one for people.
//
// Everything a lab makes carries its prefix P (≤ 6 characters [a-z0-9],
// starting with a letter), so labs with different prefixes coexist and a
// crashed lab's debris is found by name:
//
//	namespaces  P-<host>                 /run/netns/P-<host>
//	links       Pbr (bridge), Pv0, Pv1…   root side of the veths ("eth0" inside);
//	            past 1,000 hosts Pbr1, Pbr2… joined to Pbr by veths Pu1/Pd1, …
//	folders     /etc/netns/P-<host>/      bind-mounted over /etc/<x> in the host
//	users       Pop (NOPASSWD sudo), Ppw (sudo with password), GECOS "estab lab P"
//	sudoers     /etc/sudoers.d/P-lab
//	peer        the detached HTTP peer process, environment ESTAB_LAB_PEER=P
//
// Up works in stages: it names the hosts and their resources, writes the
// client key, makes the host keys in the background, does the machine-wide
// part under a lock (debris of the prefix, subnets, /etc mount points,
// bridge, namespaces, veths, users), starts the HTTP peer, starts every
// host at once (network, starting rulesets, sshd) and writes the files a
// controller needs. When a stage fails, Up removes everything of the
// prefix, whatever stage made it.
//
// A lab of more than a few dozen hosts raises the kernel's neighbour-table
// thresholds (net.ipv{4,6}.neigh.default.gc_thresh2/3, shared by all
// namespaces) by what the running labs need; the last lab down restores
// the earlier values (neigh.json and neigh-need-P in /run/estab-lab/, and
// neigh_before in lab.json).
//
// Root /etc gets an empty iptables/ or sysconfig/ (and netns/) folder as
// mount point when missing; the last lab down removes it (markers in
// /run/estab-lab/, which also holds the lock that serialises labs).
//
// DIR holds what a controller needs and what Down needs:
//
//	hosts.yaml        Ansible YAML inventory (group "lab")
//	ssh_config        Host <name> entries: ssh -F DIR/ssh_config web1
//	known_hosts       each host's ed25519 key under its IPv4 and IPv6 address
//	id_ed25519(.pub)  the client key (unencrypted); authorized_keys for root
//	become_password   sudo password of Ppw (0600)
//	lab.json          state for Down(dir) and Load(dir)
//	peer.log          output of the detached peer
//	<host>/           sshd_config, ssh_host_{ed25519,ecdsa,rsa}_key, sshd.pid,
//	                  sshd.log, root/ (the host's /root), alternatives/ (legacy)
//
// Inside a host, sessions see: hostname <host>; /etc/hosts with the lab's
// hosts; /etc/iptables/ of its own (RHEL-like: Rocky's /etc/os-release and
// /etc/sysconfig/ of its own); a fresh /root from /etc/skel; IPv4 (and
// IPv6 unless NoIPv6) on eth0 with default routes via the bridge address in
// the root namespace (the lab sets up no forwarding or NAT beyond it).
package lab
