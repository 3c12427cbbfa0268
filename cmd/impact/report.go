package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/impact-ops/impact/internal/classify"
	"github.com/impact-ops/impact/internal/export"
	"github.com/impact-ops/impact/internal/inventory"
	"github.com/impact-ops/impact/internal/results"
)

const reportAbout = `Write the workbook from one or more results files without touching a server:
after a rule change, or to merge the results of several runs. Later records of
a mailbox replace earlier ones. Verdicts and customer types are decided again
with the current rules.`

const reportExamples = `    impact report --results scan.jsonl --report impact.xlsx
    impact report --results scan.jsonl --rules rules.toml --inventory accounts.csv --report impact.xlsx
`

type reportOptions struct {
	results       stringList
	report, rules string
	inventory     string
	sheet, title  string
}

func cmdReport(ctx context.Context, e *env, args []string) error {
	var o reportOptions
	fs := newFlagSet("report", e, "impact report --results FILE [--results FILE ...] --report FILE [flags]", reportAbout, reportExamples)
	fs.Var(&o.results, "results", "results `FILE` (repeatable; later files win)")
	fs.StringVar(&o.report, "report", "", "workbook `FILE` to write (.xlsx)")
	fs.StringVar(&o.rules, "rules", "", "settings `FILE` (TOML) to classify with")
	fs.StringVar(&o.inventory, "inventory", "", "inventory `FILE`: counts mailboxes not probed yet exactly (optional)")
	fs.StringVar(&o.sheet, "sheet", "", "xlsx `SHEET` of the inventory")
	fs.StringVar(&o.title, "title", "", "incident title for the workbook")
	if err := parse(fs, e, args); err != nil {
		return err
	}
	if len(o.results) == 0 {
		return usageErr("--results is required (the scan's JSON Lines file)")
	}
	if o.report == "" {
		return usageErr("--report is required, e.g. --report impact.xlsx")
	}
	rules := classify.DefaultRules()
	if o.rules != "" {
		r, err := classify.LoadRules(o.rules)
		if err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		rules = r
	}
	var entries []inventory.Entry
	if o.inventory != "" {
		inv, err := inventory.Read(o.inventory, inventory.Options{Sheet: o.sheet})
		if err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		entries = inv.Entries
	}
	set, err := results.Load(o.results...)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	for _, w := range set.Warnings {
		fmt.Fprintln(e.stderr, "warning:", w)
	}
	rep, err := writeReports(set, reportSettings{path: o.report, rules: rules, inventory: entries, title: o.title})
	if err != nil {
		return err
	}
	printSummary(e.stderr, rep, time.Time{}, "", o.report)
	return nil
}

type reportSettings struct {
	path      string
	rules     *classify.Rules
	inventory []inventory.Entry // nil: count not-probed mailboxes from the scan headers
	title     string
}

type reportResult struct {
	*export.Report
	probeErrors int
	counts      map[results.Impact]int
}

// writeReports decides every record again with the rules, groups and ranks
// accounts and writes the workbook. The scan and `impact report` both come
// here, so a report regenerated from the results equals the scan's own.
func writeReports(set *results.Set, s reportSettings) (*reportResult, error) {
	if len(set.Scans) == 0 {
		return nil, fmt.Errorf("the results hold no scan header: not a results file of impact scan")
	}
	cutoff := set.Scans[0].Cutoff
	for _, sc := range set.Scans[1:] {
		if !sc.Cutoff.Equal(cutoff) {
			return nil, &exitError{code: exitUsage, err: fmt.Errorf("the results mix cutoffs %s and %s: report them separately", cutoff.Format(time.RFC3339), sc.Cutoff.Format(time.RFC3339))}
		}
	}
	recs := make([]*results.Mailbox, 0, len(set.Mailboxes))
	for _, m := range set.Mailboxes {
		classify.Decide(m, cutoff, s.rules)
		recs = append(recs, m)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Mailbox < recs[j].Mailbox })
	accounts := classify.Accounts(recs)

	notProbed := 0
	if s.inventory != nil {
		for _, en := range s.inventory {
			if set.Mailboxes[en.Mailbox] == nil {
				notProbed++
			}
		}
	} else {
		notProbed = max(0, set.Scans[len(set.Scans)-1].Mailboxes-len(recs))
	}
	r := &reportResult{counts: map[results.Impact]int{}}
	for _, m := range recs {
		r.counts[m.Impact]++
	}
	r.probeErrors = r.counts[results.ImpactProbeError]
	title := s.title
	if title == "" {
		title = "Mail storage incident, cutoff " + cutoff.Format("2006-01-02 15:04 -07:00")
	}
	r.Report = &export.Report{
		Title:     title,
		Scans:     set.Scans,
		Cutoff:    cutoff,
		Started:   set.Scans[0].StartedAt,
		Complete:  notProbed == 0,
		NotProbed: notProbed,
		Mailboxes: recs,
		Accounts:  accounts,
		Location:  cutoff.Location(),
	}
	if n := len(set.Ends); n > 0 {
		r.Finished = set.Ends[n-1].FinishedAt
	}
	if err := export.WriteWorkbook(s.path, r.Report, export.Options{}); err != nil {
		return nil, err
	}
	return r, nil
}

func printSummary(w io.Writer, r *reportResult, started time.Time, resultsPath, reportPath string) {
	fmt.Fprintf(w, "\nMailboxes: %s\n", impactCounts(r.counts))
	impacted := 0
	for _, a := range r.Accounts {
		if a.Rank > 0 {
			impacted++
		}
	}
	fmt.Fprintf(w, "Accounts:  %d impacted of %d\n", impacted, len(r.Accounts))
	if r.NotProbed > 0 {
		fmt.Fprintf(w, "INCOMPLETE: %d mailboxes not probed yet\n", r.NotProbed)
	}
	if !started.IsZero() {
		fmt.Fprintf(w, "Elapsed:   %s\n", time.Since(started).Round(time.Second))
	}
	if resultsPath != "" {
		fmt.Fprintf(w, "Results:   %s\n", resultsPath)
	}
	fmt.Fprintf(w, "Workbook:  %s\n", reportPath)
}
