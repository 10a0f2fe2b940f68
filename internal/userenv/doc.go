// Package userenv answers what an OpenSSH client asks about the local
// user: its name (the default remote user) and its home directory (what a
// leading ~ in a file option means). inventory and remote both use it so
// that a resolved endpoint and the dialer agree on both. ReadSecretFile
// reads a key or password file after a permission check on the open file.
package userenv
