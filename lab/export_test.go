package lab

// For the external tests: hold the machine lock while checking machine-wide
// state that concurrent labs change under it.
var MachineLock = machineLock

// WithSSHDConfigExtra appends text to every host's sshd_config.
func WithSSHDConfigExtra(o Options, text string) Options {
	o.sshdExtra = text
	return o
}

// EnsureEtcLocked makes /etc/<name> as a lab does (marked for removal by
// the last lab down), for tests that fake a crashed lab's debris.
var EnsureEtcLocked = ensureEtcLocked

// WithBridgePorts sets how many hosts a bridge takes (the real limit, a
// thousand, is too many for a test).
func WithBridgePorts(o Options, n int) Options {
	o.bridgePorts = n
	return o
}
