package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	evidenceFlags
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
	o.evidenceFlags.register(fs)
	if err := parse(fs, e, args); err != nil {
		return err
	}
	if len(o.results) == 0 {
		return usageErr("--results is required (the scan's JSON Lines file)")
	}
	if o.report == "" {
		return usageErr("--report is required, e.g. --report impact.xlsx")
	}
	if !strings.EqualFold(filepath.Ext(o.report), ".xlsx") {
		return usageErr("--report %q: the workbook must end in .xlsx", o.report)
	}
	inputs := []namedPath{{"--inventory", o.inventory}, {"--rules", o.rules}, {"--baseline", o.baseline}}
	for _, p := range o.results {
		inputs = append(inputs, namedPath{"--results", p})
	}
	for _, p := range o.previous {
		inputs = append(inputs, namedPath{"--previous", p})
	}
	if err := checkPaths(inputs, []namedPath{{"--report", o.report}}, o.csvDir); err != nil {
		return err
	}
	if err := o.reportFlags.check(); err != nil {
		return err
	}
	if err := o.evidenceFlags.check(); err != nil {
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
	// A first interrupt stops the report before it writes anything: there
	// are no probes in flight to wait for.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-e.drain:
			cancel()
		case <-rctx.Done():
		}
	}()
	rep, err := writeReportsUntil(rctx, o.results, reportSettings{
		path: o.report, rules: rules, playbook: pb, inventory: entries, title: o.title, reportFlags: o.reportFlags,
		evidenceFlags: &o.evidenceFlags,
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
	// replace writes over an earlier workbook without keeping it (the
	// demo's own files).
	replace bool
	reportFlags
	// evidence is what the verdicts use beyond the probe; nil: read from
	// evidenceFlags once the cutoff is known (the report's results
	// header), or the defaults when that is nil too.
	evidence      *classify.Evidence
	evidenceFlags *evidenceFlags
}

type reportResult struct {
	*export.Report
	probeErrors int
	counts      map[results.Impact]int
	csvFiles    []string
	kept        string // where the workbook this one replaced was kept
}

// writeReportsFrom writes the workbook (and CSV) from results files, read
// one record at a time. The scan and impact report both come here, so a
// report regenerated from a results file equals the scan's own.
func writeReportsFrom(paths []string, s reportSettings, warn func(string)) (*reportResult, error) {
	return writeReportsUntil(context.Background(), paths, s, warn)
}

// writeReportsUntil is writeReportsFrom that gives up when ctx ends, before
// any file is written.
func writeReportsUntil(ctx context.Context, paths []string, s reportSettings, warn func(string)) (*reportResult, error) {
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
		if err := ctx.Err(); err != nil {
			return err
		}
		return b.add(m)
	}, func(end *results.End) { ends = append(ends, *end) }, warn)
	if ctx.Err() != nil {
		return nil, &exitError{code: exitInterrupt, err: errors.New("interrupted: no workbook written")}
	}
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
	ev     *classify.Evidence // nil: classify's defaults
	seen   map[string]bool    // mailboxes decided, for the baseline's gaps

	// With --previous: the latest earlier scan's verdicts, every earlier
	// scan's chart point, and this report's progress per mailbox.
	prev     map[string]results.Impact
	points   []export.ScanPoint
	progress map[string]export.Change
}

// loadPrevious decides the records of earlier scans (oldest first) with
// the same rules and evidence, so that a change of rules is not mistaken
// for progress. Only the latest file's verdicts are kept for comparison;
// each file adds a point to the chart.
func (b *reportBuilder) loadPrevious(paths []string) error {
	for _, p := range paths {
		verdicts := map[string]results.Impact{}
		var started time.Time
		err := results.Stream([]string{p}, func(sc *results.Scan) error {
			if !sc.Cutoff.Equal(b.cutoff) {
				return fmt.Errorf("--previous %s has the cutoff %s, this report %s: compare scans of one incident", p,
					sc.Cutoff.Format(time.RFC3339), b.cutoff.Format(time.RFC3339))
			}
			if started.IsZero() {
				started = sc.StartedAt
			}
			return nil
		}, func(m *results.Mailbox) error {
			classify.DecideWith(m, b.cutoff, b.s.rules, b.ev)
			verdicts[m.Mailbox] = m.Impact
			return nil
		}, func(*results.End) {}, func(string) {})
		if err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("read --previous: %w", err)}
		}
		pt := export.ScanPoint{Label: filepath.Base(p), Started: started, Probed: len(verdicts)}
		for _, i := range verdicts {
			if i.Impacted() {
				pt.Impacted++
			}
		}
		b.points = append(b.points, pt)
		b.prev = verdicts
	}
	b.progress = map[string]export.Change{}
	return nil
}

func newReportBuilder(scans []results.Scan, s reportSettings) (*reportBuilder, error) {
	if len(scans) == 0 {
		return nil, noScanHeader()
	}
	b := &reportBuilder{s: s, scans: scans[:1:1], cutoff: scans[0].Cutoff, b: export.NewBuilder()}
	b.ev = s.evidence
	if b.ev == nil && s.evidenceFlags != nil {
		ev, err := s.evidenceFlags.evidence(b.cutoff)
		if err != nil {
			return nil, err
		}
		b.ev = ev
	}
	if s.evidenceFlags != nil && len(s.evidenceFlags.previous) > 0 {
		if err := b.loadPrevious(s.evidenceFlags.previous); err != nil {
			return nil, err
		}
	}
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
	classify.DecideWith(m, b.cutoff, b.s.rules, b.ev)
	if b.prev != nil {
		before, found := b.prev[m.Mailbox]
		m.Progress = classify.Progress(before, found, m.Impact)
		b.progress[m.Mailbox] = export.Change{Mailbox: m.Mailbox, AccountID: m.AccountID, CustomerType: m.CustomerType,
			Progress: m.Progress, Before: before, Now: m.Impact, Evidence: m.Evidence}
	}
	if b.ev != nil && b.ev.Baseline != nil {
		if b.seen == nil {
			b.seen = map[string]bool{}
		}
		b.seen[strings.ToLower(m.Mailbox)] = true
	}
	return b.b.Add(m)
}

// finish ranks the accounts and writes the workbook and the CSV files.
func (b *reportBuilder) finish(ends []results.End) (*reportResult, error) {
	s := b.s
	recs := b.b.Records()
	notProbed, inventoryTotal, notInInventory := 0, 0, 0
	if s.inventory != nil {
		inventoryTotal = len(s.inventory)
		for _, en := range s.inventory {
			if !recs.Has(en.Mailbox()) {
				notProbed++
			}
		}
		notInInventory = max(0, recs.Mailboxes()-(inventoryTotal-notProbed))
	} else {
		// Each shard's latest header counts its own share of the
		// inventory; merged shards add up to the whole.
		latest := map[string]int{}
		for _, sc := range b.scans {
			latest[sc.Shard] = sc.Mailboxes
		}
		for _, n := range latest {
			inventoryTotal += n
		}
		notProbed = max(0, inventoryTotal-recs.Mailboxes())
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
		Title:          title,
		Scans:          b.scans,
		Cutoff:         b.cutoff,
		Started:        b.scans[0].StartedAt,
		Complete:       notProbed == 0,
		NotProbed:      notProbed,
		Inventory:      inventoryTotal,
		NotInInventory: notInInventory,
		Records:        recs,
		Location:       b.cutoff.Location(),
		Ends:           ends,
	}
	if n := len(ends); n > 0 {
		r.Finished = ends[n-1].FinishedAt
	}
	r.Baseline = b.baselineGaps()
	r.Progress = b.progressReport(recs)
	opts := export.Options{Queues: s.queues, Redact: s.redact, Playbook: s.playbook}
	if !s.replace {
		kept, err := keepPrevious(s.path)
		if err != nil {
			return nil, err
		}
		r.kept = kept
	}
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

// baselineGaps lists the mailboxes only the baseline, or only the
// inventory (the results, without an inventory), knows.
func (b *reportBuilder) baselineGaps() *export.BaselineGaps {
	if b.ev == nil || b.ev.Baseline == nil {
		return nil
	}
	bl := b.ev.Baseline
	g := &export.BaselineGaps{File: bl.File, Listed: bl.Len()}
	known := b.seen
	if b.s.inventory != nil {
		known = make(map[string]bool, len(b.s.inventory))
		for _, en := range b.s.inventory {
			known[strings.ToLower(en.Mailbox())] = true
		}
	}
	// A single shard's report knows only its share of the inventory: the
	// baseline's other mailboxes belong to other shards, not to nobody.
	shardK, shardN := 0, 1
	if sh := b.scans[0].Shard; sh != "" && !slices.ContainsFunc(b.scans, func(sc results.Scan) bool { return sc.Shard != sh }) {
		shardK, shardN, _ = parseShard(sh)
	}
	for _, m := range bl.Mailboxes() {
		if !known[strings.ToLower(m)] && shardOf(m, shardN) == shardK {
			g.OnlyBaseline = append(g.OnlyBaseline, m)
		}
	}
	if b.s.inventory != nil {
		for _, en := range b.s.inventory {
			if bl.Lookup(en.Mailbox()) == nil {
				g.NotInBaseline = append(g.NotInBaseline, en.Mailbox())
			}
		}
	} else {
		for m := range b.seen {
			if bl.Lookup(m) == nil {
				g.NotInBaseline = append(g.NotInBaseline, m)
			}
		}
	}
	slices.Sort(g.NotInBaseline)
	return g
}

// progressReport sums the progress of every mailbox's latest record.
func (b *reportBuilder) progressReport(recs *export.Records) *export.Progress {
	if b.prev == nil {
		return nil
	}
	p := &export.Progress{Scans: slices.Clone(b.points), Counts: map[string]int{}, StillByType: map[string]int{}}
	now := export.ScanPoint{Label: "this report", Started: b.scans[0].StartedAt, Probed: recs.Mailboxes()}
	for _, i := range results.Impacts {
		if i.Impacted() {
			now.Impacted += recs.Count(i)
		}
	}
	p.Scans = append(p.Scans, now)
	for _, c := range b.progress {
		p.Counts[c.Progress]++
		switch c.Progress {
		case classify.ProgressStill:
			p.StillByType[c.CustomerType]++
			if c.Before != c.Now {
				// Still impacted, but not as before (a mailbox re-created
				// empty: login_failed, now missing_old_mail): support
				// tells its customer something else now.
				p.Changes = append(p.Changes, c)
			}
		case classify.ProgressRecovered, classify.ProgressNewly:
			p.Changes = append(p.Changes, c)
		}
	}
	slices.SortFunc(p.Changes, func(x, y export.Change) int { return strings.Compare(x.Mailbox, y.Mailbox) })
	return p
}

// keepPrevious keeps a workbook about to be replaced under a name with its
// time, e.g. impact.2026-11-29T0412.xlsx: agents may have filled in its
// queue sheets (outcomes, notes). It is a hard link, so the old file stays
// at its place until the new one is renamed over it. "" when there was
// none.
func keepPrevious(path string) (string, error) {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	ext := filepath.Ext(path)
	base := strings.TrimSuffix(path, ext) + "." + st.ModTime().UTC().Format("2006-01-02T150405")
	kept := base + ext
	for i := 2; ; i++ {
		if _, err := os.Lstat(kept); errors.Is(err, os.ErrNotExist) {
			break
		}
		kept = fmt.Sprintf("%s-%d%s", base, i, ext)
	}
	if err := os.Link(path, kept); err != nil {
		return "", fmt.Errorf("keep the previous workbook %s: %w", path, err)
	}
	return kept, nil
}

func printSummary(w io.Writer, r *reportResult, started time.Time, resultsPath, reportPath string) {
	fmt.Fprintf(w, "\nMailboxes: %s\n", impactCounts(r.counts))
	if r.NotProbed > 0 {
		fmt.Fprintf(w, "Accounts:  %d impacted of %d with a mailbox probed so far\n", r.Records.Impacted(), r.Records.Accounts())
	} else {
		fmt.Fprintf(w, "Accounts:  %d impacted of %d\n", r.Records.Impacted(), r.Records.Accounts())
	}
	if r.NotProbed > 0 {
		fmt.Fprintf(w, "INCOMPLETE: %d mailboxes not probed yet\n", r.NotProbed)
	}
	if !started.IsZero() {
		fmt.Fprintf(w, "Elapsed:   %s\n", time.Since(started).Round(time.Second))
	}
	if resultsPath != "" {
		fmt.Fprintf(w, "Results:   %s\n", resultsPath)
	}
	if g := r.Baseline; g != nil {
		fmt.Fprintf(w, "Baseline:  %s lists %d mailboxes; %d only in the baseline%s; %d not in the baseline%s\n", g.File, g.Listed,
			len(g.OnlyBaseline), sample(g.OnlyBaseline), len(g.NotInBaseline), sample(g.NotInBaseline))
	}
	if p := r.Progress; p != nil {
		fmt.Fprintf(w, "Progress:  %d recovered, %d newly impacted, %d still impacted, %d unchanged ok, %d not in the previous scan\n",
			p.Counts[classify.ProgressRecovered], p.Counts[classify.ProgressNewly], p.Counts[classify.ProgressStill],
			p.Counts[classify.ProgressUnchangedOK], p.Counts[classify.ProgressNotInPrevious])
	}
	fmt.Fprintf(w, "Workbook:  %s\n", reportPath)
	if r.kept != "" {
		fmt.Fprintf(w, "           (the workbook it replaced, with any outcomes agents entered, is kept as %s)\n", r.kept)
	}
	if len(r.csvFiles) > 0 {
		fmt.Fprintf(w, "CSV:       %d files in %s\n", len(r.csvFiles), filepath.Dir(r.csvFiles[0]))
	}
}

// sample names the first few of list, for a console line.
func sample(list []string) string {
	const show = 5
	if len(list) == 0 {
		return ""
	}
	if len(list) <= show {
		return " (" + strings.Join(list, ", ") + ")"
	}
	return " (" + strings.Join(list[:show], ", ") + fmt.Sprintf(", and %d more)", len(list)-show)
}
