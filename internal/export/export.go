// Package export writes the prioritised workbook (xlsx) and its CSV twin
// from a scan's results: a Summary with the target identity, figures,
// charts and links to every sheet; the impacted accounts in rank order
// (Priority) and split by customer type; multi-mailbox accounts; every
// mailbox for inbound calls (Lookup); the outbound worklist split into call
// queues; every mailbox with every figure; and the probe errors that need a
// rescan.
//
// The files are reports for people who will phone customers, so they hold
// customer contacts: they are created with mode 0600 and appear at their
// path only once complete (written to a temporary file in the same
// directory, synced, then renamed over the target). Options.Redact makes a
// copy without contacts and without the server's own words.
//
// Every text that came from the inventory or the server is written as a
// string cell, never as a formula, even when it starts with '=', '+', '-' or
// '@'; in CSV such text is prefixed with a single quote.
package export

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/impact-ops/impact/internal/playbook"
	"github.com/impact-ops/impact/internal/results"
)

// Report is everything the workbook is made from. The exporter only reads it.
type Report struct {
	// Title names the incident, e.g. "Mail storage incident 2026-11-29".
	Title string
	// Scans are the headers of the runs that made these results, oldest
	// first; Scans[0].Target is the server identity shown on the Summary.
	Scans []results.Scan
	// Cutoff is the instant before which mail should exist.
	Cutoff time.Time
	// Started and Finished bound the scan (first run's start, last run's end).
	Started, Finished time.Time
	// Complete is true when every inventory mailbox has a record.
	Complete bool
	// NotProbed is the number of inventory mailboxes with no record yet.
	NotProbed int
	// Inventory is the number of mailboxes the scans set out to probe (all
	// shards together); 0 when not known.
	Inventory int
	// NotInInventory is the number of probed mailboxes the inventory does
	// not list (records of an earlier run, accounts closed since); 0 when
	// no inventory was given.
	NotInInventory int
	// Records holds every mailbox and account, made by a Builder; nil
	// means none.
	Records *Records
	// Location is the time zone of the workbook's date cells; nil means UTC.
	Location *time.Location
	// Ends are the trailers of the runs, oldest first: how each run ended
	// and how it treated the server (connections, pauses, penalty, advice).
	Ends []results.End

	// Baseline, when a baseline was given: the mailboxes on one side only.
	Baseline *BaselineGaps
	// Progress, when earlier scans were given (impact report --previous).
	Progress *Progress
}

// BaselineGaps lists the mailboxes a baseline and the inventory (or the
// results, without an inventory) do not share: they are listed, not
// dropped.
type BaselineGaps struct {
	File          string   // baseline file name
	Listed        int      // mailboxes the baseline lists
	OnlyBaseline  []string // in the baseline, not in the inventory, sorted
	NotInBaseline []string // in the inventory, not in the baseline, sorted
}

// Progress compares the scan with earlier ones.
type Progress struct {
	// Scans are the impacted-mailbox figures of each earlier scan, oldest
	// first, then this one: the chart's points.
	Scans []ScanPoint
	// Counts is the number of mailboxes per progress value (recovered,
	// still_impacted, newly_impacted, unchanged_ok, not_in_previous).
	Counts map[string]int
	// StillByType is still_impacted mailboxes per customer type.
	StillByType map[string]int
	// Changes lists the mailboxes that recovered, became impacted, or are
	// still impacted in another way since the latest earlier scan, by
	// mailbox.
	Changes []Change
}

// ScanPoint is one scan's figures for the progress chart.
type ScanPoint struct {
	Label    string    // results file name
	Started  time.Time // first header's start
	Impacted int       // impacted mailboxes (login_failed, missing_old_mail, partially_restored)
	Probed   int       // mailboxes with a record
}

// Change is one mailbox whose state changed since the latest earlier scan.
type Change struct {
	Mailbox, AccountID, CustomerType string
	Progress                         string // recovered or newly_impacted
	Before, Now                      results.Impact
	Evidence                         string // the current verdict's evidence
}

// Options tune a Workbook and WriteCSV. The zero value is ready to use.
type Options struct {
	// MaxRows is the most rows one sheet holds, header row included. A
	// longer table continues on "Name (2)", "Name (3)", ... each with its
	// own header row. 0 means the xlsx limit of 1,048,576; values below 2
	// (no room for a header and a row) or above the limit are rejected.
	// CSV files are never split.
	MaxRows int
	// TmpDir is excelize's scratch directory; "" means os.TempDir(). The
	// table rows do not go there: they are generated while the zip is
	// written (see render), so a million mailboxes need no temporary disk
	// space beyond the workbook's own temporary file.
	TmpDir string
	// Queues is the number of call queue sheets ("Queue 1" ... "Queue N")
	// the impacted accounts are split over; 0 means none. At most
	// MaxQueues.
	Queues int
	// Redact leaves out customer contacts (names, phones) and the server's
	// own words (login text, errors, folder errors, greeting), for a copy
	// that can be shared more widely.
	Redact bool
	// Playbook gives the recommended action and customer script; nil means
	// playbook.Default().
	Playbook *playbook.Playbook
}

// MaxQueues bounds Options.Queues: a workbook of hundreds of queue sheets
// is nobody's worklist.
const MaxQueues = 100

func (o *Options) check(what string) error {
	if o.MaxRows == 0 {
		o.MaxRows = maxSheetRows
	}
	if o.MaxRows < 2 || o.MaxRows > maxSheetRows {
		return fmt.Errorf("%s: max rows %d outside 2..%d", what, o.MaxRows, maxSheetRows)
	}
	if o.Queues < 0 || o.Queues > MaxQueues {
		return fmt.Errorf("%s: %d queues outside 0..%d", what, o.Queues, MaxQueues)
	}
	return nil
}

// Workbook is an xlsx report being made at a path. Make one with
// NewWorkbook, call Write once, then Close.
type Workbook struct {
	path string
	opts Options
	tmp  *os.File // nil once written, failed or closed

	// sink wraps the temporary file for the workbook's bytes; tests use it
	// to inject write errors. nil means the file itself.
	sink func(io.Writer) io.Writer
}

// NewWorkbook prepares to write a workbook to path. It creates the
// temporary file (mode 0600) beside path right away, so that a directory
// that cannot be written fails before any work is done. Nothing appears at
// path until Write succeeds. Errors: invalid options, or the temporary file
// cannot be created.
func NewWorkbook(path string, opts Options) (*Workbook, error) {
	if err := opts.check("workbook " + path); err != nil {
		return nil, err
	}
	dir, base := filepath.Split(path)
	if base == "" {
		return nil, fmt.Errorf("workbook %q: no file name", path)
	}
	if dir == "" {
		dir = "."
	}
	// os.CreateTemp opens with mode 0600: the report holds customer contacts.
	tmp, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("workbook %s: create temporary file: %w", path, err)
	}
	return &Workbook{path: path, opts: opts, tmp: tmp}, nil
}

// Write renders r into the workbook and moves it into place at the path
// given to NewWorkbook, replacing any file there. On error the temporary
// file is removed and any earlier file at the path is left untouched. A
// Workbook is written at most once; a second Write returns an error.
func (w *Workbook) Write(r *Report) (err error) {
	if w.tmp == nil {
		return fmt.Errorf("workbook %s: already written or closed", w.path)
	}
	tmp := w.tmp
	w.tmp = nil
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if r == nil {
		return fmt.Errorf("workbook %s: no report", w.path)
	}
	var out io.Writer = tmp
	if w.sink != nil {
		out = w.sink(tmp)
	}
	if err := render(out, r, w.opts); err != nil {
		return fmt.Errorf("workbook %s: %w", w.path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("workbook %s: sync: %w", w.path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("workbook %s: close: %w", w.path, err)
	}
	if err := os.Rename(tmp.Name(), w.path); err != nil {
		return fmt.Errorf("workbook %s: rename into place: %w", w.path, err)
	}
	// Make the rename itself durable; a failure here does not undo it.
	if d, derr := os.Open(filepath.Dir(w.path)); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// Close releases the Workbook. If Write was never called, or failed, the
// temporary file is removed and nothing is left at the path. Close after a
// successful Write does nothing; Close is safe to call more than once.
func (w *Workbook) Close() error {
	if w.tmp == nil {
		return nil
	}
	tmp := w.tmp
	w.tmp = nil
	cerr := tmp.Close()
	rerr := os.Remove(tmp.Name())
	if err := errors.Join(cerr, rerr); err != nil {
		return fmt.Errorf("workbook %s: discard temporary file: %w", w.path, err)
	}
	return nil
}

// WriteWorkbook writes r to path in one call: NewWorkbook, Write, Close.
func WriteWorkbook(path string, r *Report, opts Options) error {
	w, err := NewWorkbook(path, opts)
	if err != nil {
		return err
	}
	defer w.Close()
	return w.Write(r)
}
