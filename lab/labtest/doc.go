// Package labtest helps Go tests use real lab hosts (package lab). It is
// separate so that the estab binary does not link the testing package.
//
// One lab per test package, in TestMain:
//
//	var fleet *lab.Lab
//
//	func TestMain(m *testing.M) {
//		os.Exit(labtest.Main(m, lab.Options{Hosts: lab.Mixed(5)}, &fleet))
//	}
//
//	func TestSomething(t *testing.T) {
//		labtest.RequireRoot(t) // skips (or fails under CI=true) where no lab could start
//		… fleet.Inventory, fleet.Hosts, fleet.Exec …
//	}
//
// It also holds the small helpers that lab tests of every package share:
// SyncBuffer, for the output of a process a test watches while it runs, and
// WaitFor, which polls a condition until a timeout.
package labtest
