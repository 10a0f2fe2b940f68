package inventory

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/estab/estab/internal/userenv"
	"github.com/kevinburke/ssh_config"
)

// SSHConfig is the OpenSSH client configuration estab consults: one
// explicit file (like ssh -F), or the user's ~/.ssh/config followed by the
// system-wide /etc/ssh/ssh_config. The first value found wins, as in ssh.
type SSHConfig struct {
	files []sshFile
}

type sshFile struct {
	path string
	cfg  *ssh_config.Config  // user or explicit file (positions known)
	inc  *ssh_config.Include // system file, read through an Include so that its relative Includes resolve under /etc/ssh
}

// systemSSHConfig is the system-wide file read after the user's (a
// variable for tests).
var systemSSHConfig = "/etc/ssh/ssh_config"

// LoadSSHConfig reads an ssh_config file. path "" means the user's
// ~/.ssh/config plus /etc/ssh/ssh_config as the system file consulted
// after it (missing default files are not an error). An explicit path is
// read alone, as with ssh -F, and must exist. Include directives work
// (relative ones resolve under ~/.ssh, or /etc/ssh for the system file);
// Match supports "host" and "all" only (the library rejects exec and the
// other criteria, which is reported as an error).
func LoadSSHConfig(path string) (*SSHConfig, error) {
	c := &SSHConfig{}
	if path != "" {
		path = userenv.ExpandTilde(path)
		cfg, err := decodeSSHConfig(path)
		if err != nil {
			return nil, err
		}
		c.files = append(c.files, sshFile{path: path, cfg: cfg})
		return c, nil
	}
	if home := userenv.Home(); home != "" {
		p := filepath.Join(home, ".ssh", "config")
		cfg, err := decodeSSHConfig(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, err
		default:
			c.files = append(c.files, sshFile{path: p, cfg: cfg})
		}
	}
	if _, err := os.Stat(systemSSHConfig); err == nil {
		if strings.HasPrefix(filepath.Clean(systemSSHConfig), "/etc/ssh") {
			inc, err := ssh_config.NewInclude([]string{systemSSHConfig}, false, ssh_config.Position{Line: 1, Col: 1}, "", true, 1)
			if err != nil {
				return nil, fmt.Errorf("ssh config %s: %w", systemSSHConfig, err)
			}
			c.files = append(c.files, sshFile{path: systemSSHConfig, inc: inc})
		} else {
			cfg, err := decodeSSHConfig(systemSSHConfig)
			if err != nil {
				return nil, err
			}
			c.files = append(c.files, sshFile{path: systemSSHConfig, cfg: cfg})
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("ssh config: %w", err)
	}
	return c, nil
}

func decodeSSHConfig(path string) (*ssh_config.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ssh config: %w", err)
	}
	cfg, err := ssh_config.DecodeBytes(data)
	if err != nil {
		return nil, fmt.Errorf("ssh config %s: %w", path, err)
	}
	return cfg, nil
}

// sshVal is one ssh_config value and where it was found.
type sshVal struct {
	key, val, where string
}

// all returns every value of the given keys for alias, in file order.
func (c *SSHConfig) all(alias string, keys ...string) []sshVal {
	if c == nil {
		return nil
	}
	want := func(k string) string {
		for _, w := range keys {
			if strings.EqualFold(k, w) {
				return w
			}
		}
		return ""
	}
	var out []sshVal
	for _, f := range c.files {
		if f.inc != nil {
			for _, k := range keys {
				vals, _ := f.inc.GetAll(alias, k)
				for _, v := range vals {
					out = append(out, sshVal{k, v, f.path})
				}
			}
			continue
		}
		for _, h := range f.cfg.Hosts {
			if !h.Matches(alias) {
				continue
			}
			for _, n := range h.Nodes {
				switch t := n.(type) {
				case *ssh_config.KV:
					if k := want(t.Key); k != "" {
						out = append(out, sshVal{k, t.Value, fmt.Sprintf("%s:%d", f.path, t.Pos().Line)})
					}
				case *ssh_config.Include:
					for _, k := range keys {
						vals, _ := t.GetAll(alias, k)
						for _, v := range vals {
							out = append(out, sshVal{k, v, fmt.Sprintf("%s:%d (Include)", f.path, t.Pos().Line)})
						}
					}
				}
			}
		}
	}
	return out
}

// first returns the first non-empty value of any of keys for alias.
func (c *SSHConfig) first(alias string, keys ...string) (sshVal, bool) {
	for _, v := range c.all(alias, keys...) {
		if strings.TrimSpace(v.val) != "" {
			v.val = strings.TrimSpace(v.val)
			return v, true
		}
	}
	return sshVal{}, false
}
