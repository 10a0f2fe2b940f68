package inventory

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/estab/estab/internal/userenv"
)

// SSHConfig is the OpenSSH client configuration estab consults: one
// explicit file (like ssh -F), or the user's ~/.ssh/config followed by the
// system-wide /etc/ssh/ssh_config. It is parsed as OpenSSH 9.2's readconf.c
// does and evaluated per host (see sshmatch.go): the first value obtained
// wins, Host and Match blocks are judged in file order.
type SSHConfig struct {
	files []*sshFile
}

// sshFile is one parsed file; user marks files read as the user's
// configuration (relative Includes resolve under ~/.ssh, else /etc/ssh).
type sshFile struct {
	path string
	user bool
	dirs []directive
}

// directive is one configuration line.
type directive struct {
	where string   // file:line, for messages
	kw    string   // lower-cased keyword
	args  []string // the rest split as OpenSSH's argv_split does
	rest  string   // the rest unsplit (ProxyJump, ProxyCommand and Match read it so)
	inc   []*sshFile
}

// systemSSHConfig is the system-wide file read after the user's (a
// variable for tests).
var systemSSHConfig = "/etc/ssh/ssh_config"

// sshHome is the local user's home as OpenSSH sees it: the user database
// entry (not $HOME). A variable so that tests need not touch the runner's.
var sshHome = userenv.SSHHome

const maxIncludeDepth = 16 // READCONF_MAX_DEPTH

// LoadSSHConfig reads an ssh_config file. path "" means the user's
// ~/.ssh/config plus /etc/ssh/ssh_config as the system file consulted
// after it (missing default files are not an error). An explicit path is
// read alone, as with ssh -F, and must exist. Include directives are
// read as ssh does (relative ones under ~/.ssh, or /etc/ssh for the
// system file); a line ssh could not parse is an error.
func LoadSSHConfig(path string) (*SSHConfig, error) {
	c := &SSHConfig{}
	if path != "" {
		f, err := readSSHFile(userenv.ExpandTilde(path), true, 0)
		if err != nil {
			return nil, err
		}
		c.files = append(c.files, f)
		return c, nil
	}
	if home := sshHome(); home != "" {
		f, err := readSSHFile(filepath.Join(home, ".ssh", "config"), true, 0)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, err
		default:
			c.files = append(c.files, f)
		}
	}
	f, err := readSSHFile(systemSSHConfig, false, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		c.files = append(c.files, f)
	}
	return c, nil
}

func readSSHFile(path string, user bool, depth int) (*sshFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ssh config: %w", err)
	}
	return parseSSHConfig(path, data, user, depth)
}

// parseSSHConfig parses one file's lines (process_config_line_depth up to
// its option switch).
func parseSSHConfig(path string, data []byte, user bool, depth int) (*sshFile, error) {
	f := &sshFile{path: path, user: user}
	var errs []error
	for i, line := range strings.Split(string(data), "\n") {
		d, ok, err := parseSSHLine(line)
		where := fmt.Sprintf("%s:%d", path, i+1)
		if err == nil && ok && d.kw == "include" {
			d.inc, err = readIncludes(d.args, user, depth)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", where, err))
			continue
		}
		if ok {
			d.where = where
			f.dirs = append(f.dirs, d)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("ssh config %s: %w", path, errors.Join(errs...))
	}
	return f, nil
}

// parseSSHLine splits a line into keyword and arguments; ok is false for
// blank and comment lines.
func parseSSHLine(line string) (d directive, ok bool, err error) {
	line = strings.TrimRight(line, " \t\r\n\f")
	s := line
	kw, s, _ := strdelim(s, true)
	if kw == "" && s != "" {
		kw, s, _ = strdelim(s, true)
	}
	if kw == "" || kw[0] == '#' {
		return d, false, nil
	}
	d.kw = strings.ToLower(kw)
	s = strings.TrimLeft(s, " \t\r\n")
	if s == "" {
		return d, false, fmt.Errorf("no argument after keyword %q", d.kw)
	}
	d.rest = s
	if d.args, err = argvSplit(s); err != nil {
		return d, false, err
	}
	return d, true, nil
}

// readIncludes reads the files an Include names, in glob order. A
// pattern that matches nothing is no error (as in ssh).
func readIncludes(args []string, user bool, depth int) ([]*sshFile, error) {
	if depth+1 > maxIncludeDepth {
		return nil, fmt.Errorf("too many recursive configuration includes")
	}
	var out []*sshFile
	for _, a := range args {
		if strings.HasPrefix(a, "~") && !user {
			return nil, fmt.Errorf("bad include path %s", a)
		}
		p := a
		if !filepath.IsAbs(a) && !strings.HasPrefix(a, "~") {
			if user {
				p = "~/.ssh/" + a
			} else {
				p = "/etc/ssh/" + a
			}
		}
		if strings.HasPrefix(p, "~") {
			x, err := sshTilde(p, sshHome())
			if err != nil {
				return nil, err
			}
			p = x
		}
		matches, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("Include %s: %v", a, err)
		}
		sort.Strings(matches)
		for _, m := range matches {
			f, err := readSSHFile(m, user, depth+1)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// strdelim is OpenSSH's strdelim_internal: the next token of s, split on
// whitespace (and one '=' when splitEquals), a leading double quote
// running to the next one. ok is false for an unmatched quote.
func strdelim(s string, splitEquals bool) (tok, rest string, ok bool) {
	seps := " \t\r\n\""
	if splitEquals {
		seps += "="
	}
	i := strings.IndexAny(s, seps)
	if i < 0 {
		return s, "", true
	}
	if s[i] == '"' {
		body := s[:i] + s[i+1:]
		j := strings.IndexByte(body[i:], '"')
		if j < 0 {
			return "", "", false
		}
		j += i
		return body[:j], strings.TrimLeft(body[j+1:], " \t\r\n"), true
	}
	wspace := splitEquals && s[i] == '='
	tok, rest = s[:i], strings.TrimLeft(s[i+1:], " \t\r\n")
	if splitEquals && !wspace && strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], " \t\r\n")
	}
	return tok, rest, true
}

// argvSplit is OpenSSH's argv_split with terminate_on_comment: single and
// double quotes group, a backslash escapes a quote, a backslash or (outside
// quotes) a space, and a token starting with '#' ends the line.
func argvSplit(s string) ([]string, error) {
	var out []string
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' || s[i] == '\t' {
			continue
		}
		if s[i] == '#' {
			break
		}
		var arg []byte
		var quote byte
		for ; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '\\' && i+1 < len(s) && (s[i+1] == '\'' || s[i+1] == '"' || s[i+1] == '\\' || (quote == 0 && s[i+1] == ' ')):
				i++
				arg = append(arg, s[i])
			case quote == 0 && (c == ' ' || c == '\t'):
				goto done
			case quote == 0 && (c == '"' || c == '\''):
				quote = c
			case quote != 0 && c == quote:
				quote = 0
			default:
				arg = append(arg, c)
			}
		}
		if quote != 0 {
			return nil, fmt.Errorf("invalid quotes")
		}
	done:
		out = append(out, string(arg))
	}
	return out, nil
}
