package remote

// DefaultIdentityFiles are the key files a Target without IdentityFiles
// tries (those that exist), "~" unexpanded: for showing what a dial uses.
func DefaultIdentityFiles() []string { return defaultIdentityFiles() }

// DefaultKnownHostsFiles are the known_hosts files a Target without
// KnownHostsFiles consults, "~" unexpanded.
func DefaultKnownHostsFiles() []string { return defaultKnownHostsFiles() }
