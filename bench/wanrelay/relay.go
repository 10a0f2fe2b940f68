// Package wanrelay is a TCP relay that delays every byte by a fixed time
// each way: a WAN link on loopback, for the benchmark (this kernel has no
// sch_netem, so tc cannot add the delay). It listens on loopback only.
package wanrelay

import (
	"context"
	"net"
	"sync"
	"time"
)

// Relay forwards connections from its loopback address to Target, each
// direction delayed by Delay (a round trip costs 2×Delay).
type Relay struct {
	Target string
	Delay  time.Duration
	ln     net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	// Accepted counts the connections relayed (connections per host).
	accepted int
}

// Start listens on 127.0.0.1 (a free port) and relays to target.
func Start(target string, delay time.Duration) (*Relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
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

// relay connects to the target after the delay a SYN would take, then
// pipes both ways.
func (r *Relay) relay(in net.Conn) {
	if !r.track(in) {
		return
	}
	defer r.untrack(in)
	time.Sleep(r.Delay) // the SYN's way there; the SYN-ACK's way back is the first read's delay
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	out, err := (&net.Dialer{}).DialContext(ctx, "tcp", r.Target)
	cancel()
	if err != nil {
		return
	}
	if !r.track(out) {
		return
	}
	defer r.untrack(out)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.pipe(out, in) }()
	go func() { defer wg.Done(); r.pipe(in, out) }()
	wg.Wait()
}

type chunk struct {
	data []byte
	at   time.Time
	eof  bool
}

// pipe copies src to dst, each chunk written Delay after it was read, in
// order; the end of src is passed on as a half close, also delayed.
func (r *Relay) pipe(dst, src net.Conn) {
	q := make(chan chunk, 4096)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{data: buf[:n], at: time.Now().Add(r.Delay)}
			}
			if err != nil {
				q <- chunk{eof: true, at: time.Now().Add(r.Delay)}
				return
			}
		}
	}()
	for c := range q {
		if d := time.Until(c.at); d > 0 {
			time.Sleep(d)
		}
		if c.eof {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			} else {
				dst.Close()
			}
			continue
		}
		if _, err := dst.Write(c.data); err != nil {
			src.Close()
			for range q { // let the reader finish
			}
			return
		}
	}
}
