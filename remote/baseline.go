package remote

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"time"

	"golang.org/x/crypto/ssh"
)

// PerSession returns an Executor that runs every command in a fresh SSH exec
// session on c's connection, the way tools without a persistent remote
// shell work (one sshd session, one login shell, one sudo per command).
// It exists as the baseline of estab's benchmark; estab itself always uses
// the framed shell. Become uses sudo -n only.
func (c *Conn) PerSession() Executor { return &perSession{c: c} }

type perSession struct {
	c     *Conn
	stats Stats
}

func (p *perSession) Run(ctx context.Context, cmd Command) (Result, error) {
	res := Result{Argv: slices.Clone(cmd.Argv), Host: p.c.target.Name}
	line, err := buildCommand(cmd)
	if err != nil {
		return res, err
	}
	if p.c.target.Become {
		user := p.c.target.BecomeUser
		if user == "" {
			user = "root"
		}
		line = "exec " + quote(sudoProgram) + " -n -u " + quote(user) + " -- /bin/sh -c " + quote(line)
	}
	start := time.Now()
	sess, err := p.c.client.NewSession()
	if err != nil {
		return res, p.c.fail(KindSession, "open session", err)
	}
	defer sess.Close()
	p.stats.Sessions++
	p.stats.Commands++
	var stdout, stderr bytes.Buffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	go func() { done <- sess.Run(line) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		return res, ctx.Err()
	}
	res.Stdout, res.Stderr, res.Duration = stdout.Bytes(), stderr.Bytes(), time.Since(start)
	// The exec request carries the command line (and any stdin with it).
	p.stats.BytesOut += int64(len(line))
	p.stats.BytesIn += int64(stdout.Len() + stderr.Len())
	var exit *ssh.ExitError
	switch {
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitStatus()
	case err != nil:
		return res, p.c.fail(KindSession, "run", err)
	}
	return res, nil
}

func (p *perSession) Stats() Stats {
	s := p.stats
	s.Connections = 1
	return s
}

func (p *perSession) Close() error { return nil }
