package remote

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/ssh"
)

// session is the one exec session of a Conn, on a raw SSH channel rather
// than ssh.Session: its exec request goes without waiting for the reply,
// so that the first commands can follow it at once, in the same round
// trip (ConnectWith). A refused exec shows as the channel closing before
// the shell reported ready.
type session struct {
	ch   ssh.Channel
	done chan struct{} // closed when the channel closed; err then set
	err  error
}

// exitError is a session's end with a non-zero status or a signal.
type exitError struct {
	status int
	signal string
}

func (e *exitError) Error() string {
	if e.signal != "" {
		return "remote shell killed by signal " + e.signal
	}
	return fmt.Sprintf("remote shell exited with status %d", e.status)
}

// errNoExitStatus: the channel closed without an exit status.
var errNoExitStatus = errors.New("remote shell ended without an exit status")

func openSession(client *ssh.Client) (*session, error) {
	ch, reqs, err := client.OpenChannel("session", nil)
	if err != nil {
		return nil, err
	}
	s := &session{ch: ch, done: make(chan struct{})}
	go s.serve(reqs)
	return s, nil
}

// exec starts cmd, not waiting for the server's reply.
func (s *session) exec(cmd string) error {
	_, err := s.ch.SendRequest("exec", false, ssh.Marshal(struct{ Command string }{cmd}))
	return err
}

// serve reads the channel's requests (the exit status, the signal) until
// the channel closes.
func (s *session) serve(reqs <-chan *ssh.Request) {
	defer close(s.done)
	var status *int
	var signal string
	for r := range reqs {
		switch r.Type {
		case "exit-status":
			var m struct{ Status uint32 }
			if ssh.Unmarshal(r.Payload, &m) == nil {
				n := int(m.Status)
				status = &n
			}
		case "exit-signal":
			var m struct {
				Signal     string
				CoreDumped bool
				Error      string
				Lang       string
			}
			if ssh.Unmarshal(r.Payload, &m) == nil {
				signal = m.Signal
			}
		}
		if r.WantReply {
			r.Reply(false, nil)
		}
	}
	switch {
	case signal != "":
		s.err = &exitError{status: -1, signal: signal}
	case status == nil:
		s.err = errNoExitStatus
	case *status != 0:
		s.err = &exitError{status: *status}
	}
}

// wait returns how the session ended: nil (status 0), an *exitError, or
// errNoExitStatus.
func (s *session) wait() error {
	<-s.done
	return s.err
}

// stdin writes to the shell's standard input; Close sends EOF.
type stdin struct{ ch ssh.Channel }

func (w stdin) Write(p []byte) (int, error) { return w.ch.Write(p) }
func (w stdin) Close() error                { return w.ch.CloseWrite() }
