package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// peerEnv marks the detached peer process of a lab: ESTAB_LAB_PEER=<prefix>.
const peerEnv = "ESTAB_LAB_PEER"

// PeerBody is what the peer answers to every GET.
const PeerBody = "estab lab peer\n"

func peerHandler(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, PeerBody)
}

func newPeerServer() *http.Server {
	return &http.Server{Handler: http.HandlerFunc(peerHandler), ReadHeaderTimeout: 10 * time.Second}
}

// ServePeer serves the lab's HTTP peer on addrs ("host:port") until ctx is
// done (then it returns nil). "estab lab peer ADDR…" calls it.
func ServePeer(ctx context.Context, addrs []string) error {
	if len(addrs) == 0 {
		return errors.New("peer: no address to listen on")
	}
	var ls []net.Listener
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return fmt.Errorf("peer: %w", err)
		}
		ls = append(ls, ln)
	}
	return servePeer(ctx, ls)
}

func servePeer(ctx context.Context, ls []net.Listener) error {
	srv := newPeerServer()
	errc := make(chan error, len(ls))
	for _, ln := range ls {
		go func(ln net.Listener) { errc <- srv.Serve(ln) }(ln)
	}
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	case err := <-errc:
		srv.Close()
		return fmt.Errorf("peer: %w", err)
	}
}

// peerListeners listens on the same free port on both bridge addresses.
func (l *Lab) peerListeners() ([]net.Listener, int, error) {
	var lastErr error
	for range 20 {
		l4, err := net.Listen("tcp", net.JoinHostPort(l.Bridge4, "0"))
		if err != nil {
			return nil, 0, err
		}
		port := l4.Addr().(*net.TCPAddr).Port
		l6, err := net.Listen("tcp", net.JoinHostPort(l.Bridge6, strconv.Itoa(port)))
		if err != nil {
			l4.Close()
			lastErr = err
			continue
		}
		return []net.Listener{l4, l6}, port, nil
	}
	return nil, 0, lastErr
}

// startPeer starts the HTTP peer: in this process (argv nil) or as a
// detached process (own session, stdio to DIR/peer.log).
func (l *Lab) startPeer(argv []string) error {
	ls, port, err := l.peerListeners()
	if err != nil {
		return err
	}
	p := strconv.Itoa(port)
	l.PeerAddr = net.JoinHostPort(l.Bridge4, p)
	l.PeerAddr6 = net.JoinHostPort(l.Bridge6, p)
	l.PeerURL = "http://" + l.PeerAddr + "/"
	l.PeerURL6 = "http://" + l.PeerAddr6 + "/"
	l.PeerURLName = "http://" + net.JoinHostPort(PeerName, p) + "/"
	if argv == nil {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = servePeer(ctx, ls)
		}()
		l.stopPeer = func() { cancel(); <-done }
		return nil
	}
	for _, ln := range ls {
		ln.Close()
	}
	if len(argv) == 0 {
		return errors.New("empty PeerArgv")
	}
	logPath := filepath.Join(l.Dir, "peer.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer devnull.Close()
	cmd := exec.Command(argv[0], append(append([]string{}, argv[1:]...), l.PeerAddr, l.PeerAddr6)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logf, logf
	cmd.Env = append(os.Environ(), peerEnv+"="+l.Prefix)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	l.st.PeerPid = cmd.Process.Pid
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }() // reap it if it dies while we run
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", l.PeerAddr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return withLog(fmt.Errorf("%s exited", cmdline(argv[0], argv[1:])), logPath)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return withLog(fmt.Errorf("%s does not listen on %s", cmdline(argv[0], argv[1:]), l.PeerAddr), logPath)
		}
	}
}
