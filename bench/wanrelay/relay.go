// Package wanrelay is a TCP relay that delays every byte by a fixed time
// each way: a WAN link on loopback, for the benchmark (this kernel has no
// sch_netem, so tc cannot add the delay). It listens on loopback only.
//
// With a one-way delay d (a round trip costs 2d) it reproduces what a real
// link costs a new connection, TCP's own handshake included:
//
//	0    the client connects; on loopback that returns at once, so the
//	     relay holds what the client sends until it could have been sent:
//	2d   on a real link the SYN-ACK arrives now and the client may send
//	3d   the relay dials the target (the server accepts after the final
//	     ACK); the client's first bytes reach it: 1.5 round trips
//	4d   the server's first bytes (an SSH banner) reach the client:
//	     2 round trips
//
// After that every byte takes d in each direction, in order; a half close
// is passed on, also delayed.
//
// The relay also counts turns: each time a client sends after data from
// the server has reached it. A client that waits for every answer turns
// once per answer; one that pipelines (sends several requests before
// reading) turns once per batch. Unlike wall time over the delay, the
// count does not grow when the machine's CPUs are busy.
package wanrelay

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Relay forwards connections from its loopback address to Target, each
// direction delayed by Delay.
type Relay struct {
	Target string
	Delay  time.Duration
	ln     net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	// accepted counts the connections relayed (connections per host).
	accepted int
	turns    atomic.Int64
}

// Start listens on 127.0.0.1 (a free port) and relays to target.
func Start(target string, delay time.Duration) (*Relay, error) {
	return Listen("127.0.0.1:0", target, delay)
}

// Listen listens on addr, which must be a loopback address (e.g.
// 127.0.1.7:22), and relays to target.
func Listen(addr, target string, delay time.Duration) (*Relay, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("wanrelay: %s is not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	r := &Relay{Target: target, Delay: delay, ln: ln, conns: map[net.Conn]struct{}{}}
	r.wg.Add(1)
	go r.serve()
	return r, nil
}

// Addr is the relay's loopback address, host:port.
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// Accepted is the number of connections relayed so far.
func (r *Relay) Accepted() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.accepted
}

// Turns is the number of turns (see the package doc) of every connection
// so far.
func (r *Relay) Turns() int { return int(r.turns.Load()) }

// Close stops listening and drops every relayed connection.
func (r *Relay) Close() error {
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	err := r.ln.Close()
	r.wg.Wait()
	return err
}

func (r *Relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		c.Close()
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *Relay) untrack(c net.Conn) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
	c.Close()
}

func (r *Relay) serve() {
	defer r.wg.Done()
	for {
		in, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.accepted++
		r.mu.Unlock()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.relay(in)
		}()
	}
}

// relay reads the client at once (holding its bytes until 3d, see the
// package doc), dials the target at 3d and then pipes both ways.
func (r *Relay) relay(in net.Conn) {
	if !r.track(in) {
		return
	}
	defer r.untrack(in)
	start := time.Now()
	up := make(chan chunk, 4096)
	var answered atomic.Bool // server data reached the client since it last sent
	go r.read(in, up, start.Add(2*r.Delay), func() {
		if answered.Swap(false) {
			r.turns.Add(1)
		}
	})
	time.Sleep(time.Until(start.Add(3 * r.Delay)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	out, err := (&net.Dialer{}).DialContext(ctx, "tcp", r.Target)
	cancel()
	if err != nil || !r.track(out) {
		in.Close()
		drain(up)
		return
	}
	defer r.untrack(out)
	down := make(chan chunk, 4096)
	go r.read(out, down, time.Time{}, func() {})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); write(out, in, up, func() {}) }()
	go func() { defer wg.Done(); write(in, out, down, func() { answered.Store(true) }) }()
	wg.Wait()
}

type chunk struct {
	data []byte
	at   time.Time // when it may be written
	eof  bool
}

// read queues what src sends, each chunk due Delay after it was read, or
// after notBefore (when the client could first have sent it), whichever is
// later; got is called for each read with data. It ends with an eof chunk.
func (r *Relay) read(src net.Conn, q chan<- chunk, notBefore time.Time, got func()) {
	defer close(q)
	due := func() time.Time {
		t := time.Now()
		if t.Before(notBefore) {
			t = notBefore
		}
		return t.Add(r.Delay)
	}
	for {
		buf := make([]byte, 32<<10)
		n, err := src.Read(buf)
		if n > 0 {
			got()
			q <- chunk{data: buf[:n], at: due()}
		}
		if err != nil {
			q <- chunk{eof: true, at: due()}
			return
		}
	}
}

// write writes the chunks of q to dst when due, in order; the end of src
// is passed on as a half close; sending is called before each data write
// (after it, the client could answer before the call returned).
// When dst fails, src is closed so that its reader ends.
func write(dst, src net.Conn, q <-chan chunk, sending func()) {
	for c := range q {
		time.Sleep(time.Until(c.at))
		if c.eof {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			} else {
				dst.Close()
			}
			continue
		}
		sending()
		if _, err := dst.Write(c.data); err != nil {
			src.Close()
			drain(q)
			return
		}
	}
}

func drain(q <-chan chunk) {
	for range q { // let the reader finish
	}
}
