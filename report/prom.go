package report

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"

	"github.com/estab/estab/result"
)

// TextfileName is the file estab audit writes for node_exporter's
// textfile collector.
const TextfileName = "estab_audit.prom"

// WriteTextfile writes the audit as Prometheus text format into
// dir/estab_audit.prom, atomically (a temporary file in dir, renamed over
// it), so that node_exporter never reads half a file. Samples carry no
// timestamps (the collector would drop them); the run's time is a metric.
func WriteTextfile(dir string, hosts []result.AuditHost, finished time.Time, took time.Duration) error {
	tmp, err := os.CreateTemp(dir, "."+TextfileName+".*")
	if err != nil {
		return fmt.Errorf("textfile: %w", err)
	}
	defer os.Remove(tmp.Name())
	enc := expfmt.NewEncoder(tmp, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range auditMetrics(hosts, finished, took) {
		if err := enc.Encode(mf); err != nil {
			tmp.Close()
			return fmt.Errorf("textfile: %w", err)
		}
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("textfile: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("textfile: %w", err)
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, TextfileName))
}

func gauge(name, help string) *dto.MetricFamily {
	return &dto.MetricFamily{Name: proto.String(name), Help: proto.String(help), Type: dto.MetricType_GAUGE.Enum()}
}

func sample(v float64, labels ...string) *dto.Metric {
	m := &dto.Metric{Gauge: &dto.Gauge{Value: proto.Float64(v)}}
	for i := 0; i+1 < len(labels); i += 2 {
		m.Label = append(m.Label, &dto.LabelPair{Name: proto.String(labels[i]), Value: proto.String(labels[i+1])})
	}
	return m
}

func auditMetrics(hosts []result.AuditHost, finished time.Time, took time.Duration) []*dto.MetricFamily {
	check := gauge("estab_audit_check", "1 when the check passed on the host and family, 0 when it failed (checks that do not apply or could not run are left out).")
	up := gauge("estab_audit_host_up", "1 when the host could be audited, 0 when not (unreachable, auth, sudo, a command that failed).")
	for _, h := range hosts {
		v := 1.0
		if h.Status == result.NotAudited {
			v = 0
		}
		up.Metric = append(up.Metric, sample(v, "host", h.Name))
		for _, c := range h.Checks {
			switch c.Result {
			case result.Pass:
				check.Metric = append(check.Metric, sample(1, "host", h.Name, "family", c.Family, "check", c.ID))
			case result.Fail:
				check.Metric = append(check.Metric, sample(0, "host", h.Name, "family", c.Family, "check", c.ID))
			}
		}
	}
	last := gauge("estab_audit_last_run_timestamp_seconds", "When the last audit finished, Unix time.")
	last.Metric = []*dto.Metric{sample(float64(finished.Unix()))}
	dur := gauge("estab_audit_duration_seconds", "How long the last audit took.")
	dur.Metric = []*dto.Metric{sample(took.Seconds())}
	return []*dto.MetricFamily{check, up, last, dur}
}
