package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/impact-ops/impact/internal/classify"
	"github.com/impact-ops/impact/internal/export"
	"github.com/impact-ops/impact/internal/inventory"
	"github.com/impact-ops/impact/internal/playbook"
	"github.com/impact-ops/impact/internal/results"
)

const reportAbout = `Write the workbook (and CSV) from one or more results files without touching
a server: after a rule or playbook change, with another number of call queues,
as a redacted copy, or to merge the results of several runs. Later records of a
mailbox replace earlier ones. Verdicts and customer types are decided again
with the current rules, so the report equals the one the scan wrote when
nothing changed.`

const reportExamples = `    impact report --results scan.jsonl --report impact.xlsx
    impact report --results scan.jsonl --report impact.xlsx --queues 4 --csv csv/
    impact report --results scan.jsonl --report shared.xlsx --redact
    impact report --results scan.jsonl --rules settings.toml --inventory accounts.csv --report impact.xlsx
`

type reportOptions struct {
	results       stringList
	report, rules string
	inventory     string
	sheet, title  string
	reportFlags
}

// reportFlags are the report flags impact scan and impact report share.
type reportFlags struct {
	queues int    // call queue sheets
	csvDir string // directory for one CSV per sheet; "" for none
	redact bool   // leave out contacts and server text
}

// defaultQueues is the number of call queue sheets without --queues: one
// worklist with the agents' columns.
const defaultQueues = 1

// register adds --queues, --csv and --redact to fs.
func (f *reportFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.queues, "queues", defaultQueues, fmt.Sprintf("split the outbound worklist into `N` call queue sheets, balanced by affected mailboxes (0 to %d)", export.MaxQueues))
	fs.StringVar(&f.csvDir, "csv", "", "also write one CSV file per sheet into `DIR` (created if missing)")
	fs.BoolVar(&f.redact, "redact", false, "leave out customer contacts and the server's own words, for a copy to share more widely")
}

func (f *reportFlags) check() error {
	if f.queues < 0 || f.queues > export.MaxQueues {
		return usageErr("--queues %d: want 0 to %d", f.queues, export.MaxQueues)
	}
	return nil
}

func cmdReport(ctx context.Context, e *env, args []string) error {
	var o reportOptions
	fs := newFlagSet("report", e, "impact report --results FILE [--results FILE ...] --report FILE [flags]", reportAbout, reportExamples)
	fs.Var(&o.results, "results", "results `FILE` (repeatable; later files win)")
	fs.StringVar(&o.report, "report", "", "workbook `FILE` to write (.xlsx)")
	fs.StringVar(&o.rules, "rules", "", "settings `FILE` (TOML): classification rules and playbook")
	fs.StringVar(&o.inventory, "inventory", "", "inventory `FILE`: counts mailboxes not probed yet exactly (optional)")
	fs.StringVar(&o.sheet, "sheet", "", "xlsx `SHEET` of the inventory")
	fs.StringVar(&o.title, "title", "", "incident `TITLE` for the workbook")
	o.reportFlags.register(fs)
	if err := parse(fs, e, args); err != nil {
		return err
	}
	if len(o.results) == 0 {
		return usageErr("--results is required (the scan's JSON Lines file)")
	}
	if o.report == "" {
		return usageErr("--report is required, e.g. --report impact.xlsx")
	}
	if err := o.reportFlags.check(); err != nil {
		return err
	}
	rules, pb, err := loadSettings(o.rules)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	var entries []inventory.Entry
	if o.inventory != "" {
		inv, err := inventory.Read(o.inventory, inventory.Options{Sheet: o.sheet})
		if err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		entries = inv.Entries
	}
	rep, err := writeReportsFrom(o.results, reportSettings{
		path: o.report, rules: rules, playbook: pb, inventory: entries, title: o.title, reportFlags: o.reportFlags,
	}, func(w string) { fmt.Fprintln(e.stderr, "warning:", w) })
	if err != nil {
		return err
	}
	printSummary(e.stderr, rep, time.Time{}, "", o.report)
	return nil
}

// loadSettings reads the settings file: classification rules and the
// playbook. "" gives the defaults.
func loadSettings(file string) (*classify.Rules, *playbook.Playbook, error) {
	if file == "" {
		return classify.DefaultRules(), playbook.Default(), nil
	}
	rules, err := classify.LoadRules(file)
	if err != nil {
		return nil, nil, err
	}
	pb, err := playbook.Load(file)
	if err != nil {
		return nil, nil, err
	}
	return rules, pb, nil
}

type reportSettings struct {
	path      string
	rules     *classify.Rules
	playbook  *playbook.Playbook // nil: the defaults
	inventory []inventory.Entry  // nil: count not-probed mailboxes from the scan headers
	title     string
	reportFlags
}

type reportResult struct {
	*export.Report
	probeErrors int
	counts      map[results.Impact]int
	csvFiles    []string
}

// writeReports writes the workbook (and CSV) from results already loaded.
// The scan and impact report share everything after the records are read
// (see build), so a report regenerated from a results file equals the
// scan's own.
func writeReports(set *results.Set, s reportSettings) (*reportResult, error) {
	b, err := newReportBuilder(set.Scans, s)
	if err != nil {
		return nil, err
	}
	for _, m := range set.Mailboxes {
		if err := b.add(m); err != nil {
			return nil, err
		}
	}
	return b.finish(set.Ends)
}

// writeReportsFrom writes the workbook (and CSV) from results files, read
// one record at a time: only what the sheets show is kept, so a million
// mailboxes fit in a few hundred MB. warn receives what was skipped (a torn
// last line).
func writeReportsFrom(paths []string, s reportSettings, warn func(string)) (*reportResult, error) {
	var b *reportBuilder
	var ends []results.End
	err := results.Stream(paths, func(sc *results.Scan) error {
		if b == nil {
			var err error
			b, err = newReportBuilder([]results.Scan{*sc}, s)
			return err
		}
		return b.addScan(*sc)
	}, func(m *results.Mailbox) error {
		if b == nil {
			return errors.New("mailbox record before the scan header: not a results file of impact scan")
		}
		return b.add(m)
	}, func(end *results.End) { ends = append(ends, *end) }, warn)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	if b == nil {
		return nil, noScanHeader()
	}
	return b.finish(ends)
}

func noScanHeader() error {
	return &exitError{code: exitUsage, err: errors.New("the results hold no scan header: not a results file of impact scan")}
}

// reportBuilder decides records with the rules and collects them.
type reportBuilder struct {
	s      reportSettings
	scans  []results.Scan
	cutoff time.Time
	b      *export.Builder
	counts map[results.Impact]int
}

func newReportBuilder(scans []results.Scan, s reportSettings) (*reportBuilder, error) {
	if len(scans) == 0 {
		return nil, noScanHeader()
	}
	b := &reportBuilder{s: s, scans: scans[:1:1], cutoff: scans[0].Cutoff, b: export.NewBuilder()}
	for _, sc := range scans[1:] {
		if err := b.addScan(sc); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// addScan adds the header of a later run; runs with another cutoff would
// make a report that is true of neither.
func (b *reportBuilder) addScan(sc results.Scan) error {
	if !sc.Cutoff.Equal(b.cutoff) {
		return &exitError{code: exitUsage, err: fmt.Errorf("the results mix cutoffs %s and %s: report them separately",
			b.cutoff.Format(time.RFC3339), sc.Cutoff.Format(time.RFC3339))}
	}
	b.scans = append(b.scans, sc)
	return nil
}

func (b *reportBuilder) add(m *results.Mailbox) error {
	classify.Decide(m, b.cutoff, b.s.rules)
	return b.b.Add(m)
}

// finish ranks the accounts and writes the workbook and the CSV files.
func (b *reportBuilder) finish(ends []results.End) (*reportResult, error) {
	s := b.s
	recs := b.b.Records()
	notProbed := 0
	if s.inventory != nil {
		for _, en := range s.inventory {
			if !recs.Has(en.Mailbox) {
				notProbed++
			}
		}
	} else {
		// Each shard's latest header counts its own share of the
		// inventory; merged shards add up to the whole.
		latest := map[string]int{}
		for _, sc := range b.scans {
			latest[sc.Shard] = sc.Mailboxes
		}
		total := 0
		for _, n := range latest {
			total += n
		}
		notProbed = max(0, total-recs.Mailboxes())
	}
	r := &reportResult{counts: map[results.Impact]int{}}
	for _, i := range results.Impacts {
		if n := recs.Count(i); n > 0 {
			r.counts[i] = n
		}
	}
	r.probeErrors = r.counts[results.ImpactProbeError]
	title := s.title
	if title == "" {
		title = "Mail storage incident, cutoff " + b.cutoff.Format("2006-01-02 15:04 -07:00")
	}
	r.Report = &export.Report{
		Title:     title,
		Scans:     b.scans,
		Cutoff:    b.cutoff,
		Started:   b.scans[0].StartedAt,
		Complete:  notProbed == 0,
		NotProbed: notProbed,
		Records:   recs,
		Location:  b.cutoff.Location(),
		Ends:      ends,
	}
	if n := len(ends); n > 0 {
		r.Finished = ends[n-1].FinishedAt
	}
	opts := export.Options{Queues: s.queues, Redact: s.redact, Playbook: s.playbook}
	if err := export.WriteWorkbook(s.path, r.Report, opts); err != nil {
		return nil, err
	}
	if s.csvDir != "" {
		files, err := export.WriteCSV(s.csvDir, r.Report, opts)
		if err != nil {
			return nil, fmt.Errorf("%w (the workbook %s was written)", err, s.path)
		}
		r.csvFiles = files
	}
	return r, nil
}

func printSummary(w io.Writer, r *reportResult, started time.Time, resultsPath, reportPath string) {
	fmt.Fprintf(w, "\nMailboxes: %s\n", impactCounts(r.counts))
	fmt.Fprintf(w, "Accounts:  %d impacted of %d\n", r.Records.Impacted(), r.Records.Accounts())
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
	if len(r.csvFiles) > 0 {
		fmt.Fprintf(w, "CSV:       %d files in %s\n", len(r.csvFiles), filepath.Dir(r.csvFiles[0]))
	}
}
