// Package result holds the plain per-host records that flow one way from
// the jobs to the report: named string types for every enum, a reason in a
// field of its own. Nothing here does I/O.
package result
