// Package report renders results: tables for people, JSON for programs.
// It reads plain result structs and never reaches back into the run.
package report
