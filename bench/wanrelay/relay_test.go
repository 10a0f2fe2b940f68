package wanrelay

import (
	"bufio"
	"bytes"
	"io"
	"math/rand"
	"net"
	"strings"
	"testing"
	"time"
)

// serve accepts connections on a loopback port and hands each to handle.
func serve(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); handle(c) }()
		}
	}()
	return ln.Addr().String()
}

func start(t *testing.T, target string, delay time.Duration) *Relay {
	t.Helper()
	r, err := Start(target, delay)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func echo(c net.Conn) { io.Copy(c, c) }

// Bytes arrive in order and complete, written in many small pieces while
// the echo comes back.
func TestOrder(t *testing.T) {
	r := start(t, serve(t, echo), 2*time.Millisecond)
	c, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := make([]byte, 1<<20)
	rand.New(rand.NewSource(1)).Read(want)
	go func() {
		rest := want
		for len(rest) > 0 {
			n := min(len(rest), 1+rand.Intn(3000))
			if _, err := c.Write(rest[:n]); err != nil {
				return
			}
			rest = rest[n:]
		}
		c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d, in order", len(got), len(want))
	}
	if r.Accepted() != 1 {
		t.Errorf("Accepted %d, want 1", r.Accepted())
	}
}

// A client's half close reaches the server, which still answers.
func TestHalfClose(t *testing.T) {
	r := start(t, serve(t, func(c net.Conn) {
		b, _ := io.ReadAll(c) // until the client's half close
		c.Write([]byte("got " + string(b)))
	}), time.Millisecond)
	c, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hello"))
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "got hello" {
		t.Fatalf("%q %v, want %q", got, err, "got hello")
	}
}

// The delays are never shorter than a real link's (lower bounds only: the
// machine may be slow, never fast): the server's banner after 2 round
// trips, the client's first bytes at the server after 1.5, then 1 round
// trip per exchange.
func TestDelay(t *testing.T) {
	const d = 20 * time.Millisecond
	firstRead := make(chan time.Time, 1)
	r := start(t, serve(t, func(c net.Conn) {
		c.Write([]byte("banner\n"))
		br := bufio.NewReader(c)
		for i := 0; ; i++ {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if i == 0 {
				firstRead <- time.Now()
			}
			c.Write([]byte(line))
		}
	}), d)
	t0 := time.Now()
	c, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("first\n")) // sent at once, as a client that does not wait for the banner
	br := bufio.NewReader(c)
	if l, err := br.ReadString('\n'); err != nil || l != "banner\n" {
		t.Fatalf("banner %q %v", l, err)
	}
	banner := time.Since(t0)
	arrived := (<-firstRead).Sub(t0)
	if l, err := br.ReadString('\n'); err != nil || l != "first\n" {
		t.Fatalf("echo %q %v", l, err)
	}
	t1 := time.Now()
	c.Write([]byte("again\n"))
	if l, err := br.ReadString('\n'); err != nil || l != "again\n" {
		t.Fatalf("echo %q %v", l, err)
	}
	rtt := time.Since(t1)
	t.Logf("delay %v: client's first bytes at the server after %v, banner after %v, a round trip %v", d, arrived, banner, rtt)
	for _, c := range []struct {
		what      string
		got, want time.Duration
	}{{"client's first bytes", arrived, 3 * d}, {"server's banner", banner, 4 * d}, {"a round trip", rtt, 2 * d}} {
		if c.got < c.want {
			t.Errorf("%s after %v, want at least %v", c.what, c.got, c.want)
		}
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, a := range []string{"0.0.0.0:0", ":0", "198.18.0.1:0", "[::]:0"} {
		if r, err := Listen(a, "127.0.0.1:1", 0); err == nil {
			r.Close()
			t.Errorf("Listen(%s) accepted a non-loopback address", a)
		}
	}
	r, err := Listen("127.0.1.250:0", "127.0.0.1:1", 0)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
}

// A target that refuses ends the client's connection, and Close returns.
func TestTargetDown(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	r := start(t, dead, time.Millisecond)
	c, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes from a relay to nowhere", n)
	}
}

// A client that waits for each answer turns once per answer it sends
// after; one that pipelines turns once.
func TestTurns(t *testing.T) {
	r := start(t, serve(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			c.Write([]byte(line))
		}
	}), time.Millisecond)
	exchange := func(batches ...[]string) {
		c, err := net.Dial("tcp", r.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for _, b := range batches {
			c.Write([]byte(strings.Join(b, "")))
			for range b {
				if _, err := br.ReadString('\n'); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	exchange([]string{"a\n"}, []string{"b\n"}, []string{"c\n"}) // waits for each: turns after a and b
	if got := r.Turns(); got != 2 {
		t.Errorf("one at a time: %d turns, want 2", got)
	}
	exchange([]string{"a\n", "b\n", "c\n"}) // pipelined: no turn
	if got := r.Turns(); got != 2 {
		t.Errorf("pipelined: %d turns, want still 2", got)
	}
}
