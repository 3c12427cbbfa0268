package classify

import "github.com/impact-ops/impact/internal/results"

// Progress values: how a mailbox's verdict moved since an earlier scan.
const (
	ProgressRecovered     = "recovered"       // impacted then, not now
	ProgressStill         = "still_impacted"  // impacted then and now
	ProgressNewly         = "newly_impacted"  // not impacted then, impacted now
	ProgressUnchangedOK   = "unchanged_ok"    // impacted neither then nor now
	ProgressNotInPrevious = "not_in_previous" // the earlier scan has no verdict for it
)

// ProgressValues lists the progress values in report order.
var ProgressValues = []string{ProgressRecovered, ProgressNewly, ProgressStill, ProgressUnchangedOK, ProgressNotInPrevious}

// Progress compares a mailbox's verdict now with its verdict in an earlier
// scan (found false when that scan has none). A probe_error says nothing
// new: it keeps the earlier state (an impacted mailbox that cannot be
// probed now has not recovered), and an earlier probe_error counts as not
// impacted.
func Progress(before results.Impact, found bool, now results.Impact) string {
	if !found {
		return ProgressNotInPrevious
	}
	was := before.Impacted()
	is := now.Impacted()
	if now == results.ImpactProbeError || (now != results.ImpactOK && now.Severity() == results.ImpactProbeError.Severity()) {
		is = was
	}
	switch {
	case was && is:
		return ProgressStill
	case was:
		return ProgressRecovered
	case is:
		return ProgressNewly
	default:
		return ProgressUnchangedOK
	}
}
