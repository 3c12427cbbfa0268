package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/impact-ops/impact/internal/baseline"
	"github.com/impact-ops/impact/internal/classify"
)

// evidenceFlags are the flags impact scan and impact report share for
// evidence beyond the probe: a baseline and the UIDVALIDITY heuristic.
type evidenceFlags struct {
	baseline      string
	baselineSheet string
	tolerance     string
	uidHeuristic  bool
	previous      stringList
}

func (f *evidenceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.baseline, "baseline", "", "`FILE` of what each mailbox held before the incident: a usage/backup manifest (.csv/.xlsx with mailbox and messages columns, optional folder, bytes, uidvalidity, oldest) or the results file of an earlier scan")
	fs.StringVar(&f.baselineSheet, "baseline-sheet", "", "xlsx `SHEET` of the baseline manifest (default: the first)")
	fs.StringVar(&f.tolerance, "baseline-tolerance", classify.DefaultTolerance().String(), "shortfall against the baseline accepted as the customer's own deletions: `N`, P% or N,P% (the larger applies)")
	fs.BoolVar(&f.uidHeuristic, "uidvalidity-heuristic", false, "read UIDVALIDITY as the folder's creation time (Dovecot, Cyrus): a folder created after the cutoff is evidence of lost mail; wrong on servers whose UIDVALIDITY is not a timestamp, and for Maildirs copied in (restored) after the cutoff")
	fs.Var(&f.previous, "previous", "results `FILE` of an earlier scan to compare with (repeatable, oldest first): recovered, still_impacted, newly_impacted per mailbox")
}

func (f *evidenceFlags) check() error {
	if _, err := parseTolerance(f.tolerance); err != nil {
		return usageErr("--baseline-tolerance %q: %v", f.tolerance, err)
	}
	if f.baselineSheet != "" && f.baseline == "" {
		return usageErr("--baseline-sheet needs --baseline")
	}
	return nil
}

// evidence reads the baseline (if any) for the cutoff.
func (f *evidenceFlags) evidence(cutoff time.Time) (*classify.Evidence, error) {
	tol := classify.DefaultTolerance()
	var err error
	if f.tolerance != "" { // "" when the options were not parsed from flags (the demo)
		tol, err = parseTolerance(f.tolerance)
	}
	if err != nil {
		return nil, usageErr("--baseline-tolerance %q: %v", f.tolerance, err)
	}
	ev := &classify.Evidence{Tolerance: tol, UIDValidityHeuristic: f.uidHeuristic}
	if f.baseline != "" {
		b, err := baseline.Read(f.baseline, baseline.Options{Sheet: f.baselineSheet, Cutoff: cutoff})
		if err != nil {
			return nil, &exitError{code: exitUsage, err: err}
		}
		ev.Baseline = b
	}
	return ev, nil
}

// parseTolerance reads "N", "P%" or "N,P%".
func parseTolerance(s string) (classify.Tolerance, error) {
	var t classify.Tolerance
	s = strings.TrimSpace(s)
	if s == "" {
		return t, fmt.Errorf("empty: want N, P%% or N,P%%, e.g. 5,2%%")
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if p, ok := strings.CutSuffix(part, "%"); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil || v < 0 || v > 100 {
				return t, fmt.Errorf("%q: want a percentage from 0 to 100", part)
			}
			t.Percent = v
			continue
		}
		n, err := strconv.ParseInt(part, 10, 64)
		if err != nil || n < 0 {
			return t, fmt.Errorf("%q: want a number of messages (N), a percentage (P%%) or both (N,P%%)", part)
		}
		t.Messages = n
	}
	return t, nil
}
