package fleet

import "time"

// Event names what a Progress call reports.
type Event string

// Progress events, in the order a batch sees them.
const (
	BatchStart Event = "batch-start"
	HostStart  Event = "host-start"
	HostDone   Event = "host-done"
	BatchEnd   Event = "batch-end"
)

// Progress is the state of a rollout at one event; see the package doc.
type Progress[R any] struct {
	Event      Event
	Batch      int // 1-based; 0 before the first batch
	Batches    int
	BatchHosts int // hosts in this batch
	Host       int // the host's index (HostStart, HostDone); -1 otherwise
	// Result is the host's result (HostDone only): a renderer may print
	// it at once (jsonl). It must not be kept or changed.
	Result   *R
	Status   string         // HostDone: the host's Outcome.Status
	Done     int            // hosts finished so far (not-started hosts are not counted)
	Total    int            // hosts of the rollout
	InFlight int            // hosts started and not finished
	Counts   map[string]int // finished hosts by status (a copy)
	Elapsed  time.Duration  // since the rollout began
	Stop     error          // BatchEnd: why the rollout stops after this batch; nil = it goes on
}
