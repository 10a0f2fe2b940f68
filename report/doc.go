// Package report renders results: tables for people, JSON for programs.
// It reads plain result structs and never reaches back into the run.
// The inventory views (InventoryList, InventoryHost, InventoryGraph) print
// what ansible-inventory prints, in Python's own JSON and str() format.
package report
