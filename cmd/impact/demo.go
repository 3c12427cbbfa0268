package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/impact-ops/impact/internal/demo"
	"github.com/impact-ops/impact/internal/results"
	"github.com/impact-ops/impact/internal/scan"
)

const demoAbout = `Start an in-process IMAP server on 127.0.0.1 seeded with a synthetic
incident (business and residential accounts, multi-mailbox business accounts,
mailboxes that fail login, mailboxes missing everything before the cutoff),
write its inventory, scan it through the same code path as "impact scan", and
write the results and the workbook. Needs nothing but this binary.`

const demoExamples = `    impact demo
    impact demo --out /tmp/incident --mailboxes 2000 --workers 16
`

func cmdDemo(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("demo", e, "impact demo [--out DIR] [--mailboxes N]", demoAbout, demoExamples)
	out := fs.String("out", "impact-demo", "`DIR` for the inventory, results and workbook (created if missing)")
	n := fs.Int("mailboxes", 200, "`N` mailboxes in the synthetic incident (at least 20)")
	workers := fs.Int("workers", scan.DefaultWorkers, "mailboxes probed at once")
	seed := fs.Int64("seed", 1, "seed of the synthetic incident")
	if err := parse(fs, e, args); err != nil {
		return err
	}
	if *n < 20 || *n > 1_000_000 {
		return usageErr("--mailboxes %d: want 20 to 1000000", *n)
	}
	if *workers < 1 || *workers > 256 {
		return usageErr("--workers %d: want 1 to 256", *workers)
	}
	if err := demoDir(*out); err != nil {
		return err
	}

	cutoff := lastSunday8(time.Now())
	invPath := filepath.Join(*out, "accounts.csv")
	srv, dp, err := startDemoIncident(ctx, *n, cutoff, *seed, invPath)
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(e.stderr, "Demo: in-process IMAP server on %s with %d mailboxes; cutoff %s; inventory %s\n",
		srv.Addr, *n, dp.cutoff.Format(time.RFC3339), invPath)

	// The scan's own defaults, as if typed on the command line, then the
	// demo's server and files.
	o := &scanOptions{}
	scanFlags(flag.NewFlagSet("demo-scan", flag.ContinueOnError), o)
	o.inventory, o.server, o.tlsMode = invPath, srv.Addr, "none"
	o.cutoff, o.auth, o.masterUser = dp.cutoff.Format(time.RFC3339), "master", dp.masterUser
	o.results, o.report = filepath.Join(*out, "scan.jsonl"), filepath.Join(*out, "impact.xlsx")
	o.workers, o.rate, o.fresh = *workers, 1000, true
	o.title = "Demo incident (synthetic), cutoff " + dp.cutoff.Format("Mon 2006-01-02 15:04 MST")
	if _, err := o.check(); err != nil {
		return err
	}
	// The demo's rules go into a file beside its inventory, so that the
	// README's scan command run on that inventory classifies it alike.
	o.rules = filepath.Join(*out, "rules.toml")
	if err := writeDemoRules(o.rules); err != nil {
		return err
	}
	scanErr := runScan(ctx, e, o, dp.cutoff, &scanHooks{masterPassword: dp.masterPassword})
	srv.Close()

	var ee *exitError
	if errors.As(scanErr, &ee) && ee.code == exitInterrupt {
		return &exitError{code: exitInterrupt, err: errors.New("interrupted (the demo starts afresh on every run)")}
	}
	// The demo knows the truth: say how the scan did against it.
	got := make(map[string]results.Impact, *n)
	err = results.Stream([]string{o.results}, func(*results.Scan) error { return nil },
		func(m *results.Mailbox) error { got[m.Mailbox] = m.Impact; return nil }, func(*results.End) {}, func(string) {})
	if err != nil {
		return err
	}
	// The incident is generated again rather than kept through the scan:
	// the same arguments give the same incident, and a scan of many
	// mailboxes should not hold it besides the server's copy.
	inc := demo.NewIncident(*n, cutoff, *seed)
	match := 0
	for i := range inc.Mailboxes {
		m := &inc.Mailboxes[i]
		if got[m.Entry.Mailbox()] == m.Expected {
			match++
		}
	}
	fmt.Fprintf(e.stderr, "Demo check: %d of %d verdicts match the seeded incident.\n", match, len(inc.Mailboxes))
	if scanErr == nil && match != len(inc.Mailboxes) {
		return fmt.Errorf("demo: %d verdicts differ from the seeded incident", len(inc.Mailboxes)-match)
	}
	return scanErr
}

// demoParams are what the demo's scan needs of the incident.
type demoParams struct {
	cutoff                     time.Time
	masterUser, masterPassword string
}

// startDemoIncident generates the incident of n mailboxes, writes its
// inventory to invPath and starts its server. It returns what the scan
// needs and nothing else of the incident: the server keeps its own copy.
func startDemoIncident(ctx context.Context, n int, cutoff time.Time, seed int64, invPath string) (*demo.Server, demoParams, error) {
	inc := demo.NewIncident(n, cutoff, seed)
	p := demoParams{cutoff: inc.Cutoff, masterUser: inc.MasterUser, masterPassword: inc.MasterPassword}
	if err := inc.WriteInventory(invPath); err != nil {
		return nil, p, err
	}
	srv, err := demo.Start(ctx, inc)
	if err != nil {
		return nil, p, fmt.Errorf("start demo server: %w", err)
	}
	return srv, p, nil
}

// demoMarker marks a directory as the demo's own, so a rerun may replace
// the files in it.
const demoMarker = ".impact-demo"

// demoDir makes the demo's output directory. It refuses a directory that
// holds anything not made by the demo: --out . in a working directory would
// otherwise replace a real accounts.csv or scan.jsonl.
func demoDir(dir string) error {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return &exitError{code: exitUsage, err: fmt.Errorf("--out: %w", err)}
	case len(ents) > 0:
		if _, err := os.Stat(filepath.Join(dir, demoMarker)); err != nil {
			return usageErr("--out %s already holds files the demo did not make; the demo writes accounts.csv, rules.toml, scan.jsonl and impact.xlsx: give it a new or empty directory", dir)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("--out: %w", err)}
	}
	return os.WriteFile(filepath.Join(dir, demoMarker), []byte("made by impact demo: its files here are replaced on every run\n"), 0o600)
}

// lastSunday8 is the most recent Sunday 08:00 UTC at least a day before now,
// so the demo has mail on both sides of its cutoff.
func lastSunday8(now time.Time) time.Time {
	d := time.Date(now.Year(), now.Month(), now.Day(), 8, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
	for d.Weekday() != time.Sunday {
		d = d.AddDate(0, 0, -1)
	}
	return d
}

// writeDemoRules writes the demo's settings: the default rules plus the
// demo ISP's own domains, so that its residential customers are told from
// business customers by their domain.
func writeDemoRules(path string) error {
	var b strings.Builder
	b.WriteString("# Written by impact demo: the rules the demo's scan used (see README \"Classification and ranking\").\n")
	b.WriteString("# The demo ISP's own mail domains: a mailbox in any other domain is a business's.\n")
	b.WriteString("isp_domains = [")
	for i, d := range demo.ISPDomains() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(d))
	}
	b.WriteString("]\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("demo: write rules: %w", err)
	}
	return nil
}
