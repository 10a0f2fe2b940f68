// Package remotetest holds test doubles for package remote: Fake, a
// recording remote.Executor that answers from tables or a handler, for
// tests of code that runs commands on hosts without SSH.
package remotetest
