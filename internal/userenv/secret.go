package userenv

import (
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ReadSecretFile reads a file that holds a secret (a private key, a
// password) once check approved it. check sees the metadata of the opened
// file, so the file cannot be swapped between the check and the read. The
// secret ends in one buffer: those it grew out of are wiped (the caller
// wipes the one returned). A file larger than max is refused.
func ReadSecretFile(path string, max int, check func(fs.FileInfo) error) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := check(fi); err != nil {
		return nil, err
	}
	// Sized from the start for a regular file; a pipe grows it.
	buf := make([]byte, 0, min(max, int(fi.Size()))+512)
	for {
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case err == io.EOF:
			return buf, nil
		case err != nil:
			clear(buf)
			return nil, err
		case len(buf) > max:
			clear(buf)
			return nil, fmt.Errorf("%s: larger than %d bytes", path, max)
		case len(buf) == cap(buf):
			grown := append(make([]byte, 0, 2*cap(buf)), buf...)
			clear(buf)
			buf = grown
		}
	}
}
