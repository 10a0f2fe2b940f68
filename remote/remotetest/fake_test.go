package remotetest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estab/estab/remote"
)

func TestFake(t *testing.T) {
	f := &Fake{
		Host:    "web1",
		Results: map[string]remote.Result{"iptables -V": {Stdout: []byte("iptables v1.8.9 (nf_tables)\n")}},
		Errors:  map[string]error{"boom": &remote.Error{Kind: remote.KindUnreachable, Host: "web1", Err: errors.New("lost")}},
		Handle: func(argv []string, stdin []byte) remote.Result {
			if argv[0] == "cat" {
				return remote.Result{Stdout: stdin}
			}
			return remote.Result{ExitCode: 127}
		},
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.Run(ctx, remote.Command{Argv: []string{"iptables", "-V"}})
		}()
	}
	wg.Wait()
	r, err := f.Run(ctx, remote.Command{Argv: []string{"cat"}, Stdin: []byte("x")})
	if err != nil || string(r.Stdout) != "x" || r.Host != "web1" {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := f.Run(ctx, remote.Command{Argv: []string{"boom"}}); remote.KindOf(err) != remote.KindUnreachable {
		t.Fatal(err)
	}
	r, _ = f.Run(ctx, remote.Command{Argv: []string{"iptables", "-V"}})
	if !bytes.Contains(r.Stdout, []byte("nf_tables")) {
		t.Fatal(r)
	}
	if f.Stats() != (remote.Stats{Connections: 1, Sessions: 1, Commands: 13, RoundTrips: 13}) || len(f.Commands()) != 13 || f.Argvs()[10] != "cat" {
		t.Fatalf("%+v %q", f.Stats(), f.Argvs())
	}
	unknown := &Fake{}
	r, _ = unknown.Run(ctx, remote.Command{Argv: []string{"nope"}})
	if r.ExitCode != 127 || !strings.Contains(string(r.Stderr), "command not found") {
		t.Fatal(r)
	}
	unknown.Close()
	if _, err := unknown.Run(ctx, remote.Command{Argv: []string{"nope"}}); err == nil {
		t.Fatal("run after close")
	}
}

// TestFakeHang: a hanging command returns when ctx ends, with its cause,
// and the Fake is closed after it.
func TestFakeHang(t *testing.T) {
	f := &Fake{Host: "web1", Hang: map[string]bool{"ip6tables -w -S INPUT": true}}
	cause := errors.New("no answer within 50ms")
	ctx, cancel := context.WithTimeoutCause(context.Background(), 50*time.Millisecond, cause)
	defer cancel()
	start := time.Now()
	_, err := f.Run(ctx, remote.Command{Argv: []string{"ip6tables", "-w", "-S", "INPUT"}})
	if !errors.Is(err, cause) || time.Since(start) > 5*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
	if _, err := f.Run(context.Background(), remote.Command{Argv: []string{"true"}}); err == nil {
		t.Fatal("Run after a hung command succeeded")
	}
}
