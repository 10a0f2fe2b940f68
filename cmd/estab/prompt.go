package main

import (
	"fmt"
	"os"

	"golang.org/x/term"
)

// promptSecret reads a secret from the controlling terminal without echo.
// Without a terminal it fails rather than reading stdin by surprise.
func promptSecret(prompt string) ([]byte, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot prompt: no terminal (%v)", err)
	}
	defer tty.Close()
	fmt.Fprint(tty, prompt)
	b, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	return b, err
}

// promptPassphrase asks for an encrypted key's passphrase; remote calls it
// once per key file.
func promptPassphrase(keyFile string) ([]byte, error) {
	return promptSecret(fmt.Sprintf("Enter passphrase for key '%s': ", keyFile))
}
