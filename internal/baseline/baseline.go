// Package baseline reads what each mailbox held before the incident: a
// usage or backup manifest (CSV or XLSX) or the results file of an earlier
// impact scan. The verdict compares a probed mailbox with its baseline
// (classify.Evidence) to prove old mail missing, or restored.
package baseline

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/impact-ops/impact/internal/results"
)

// Kinds of baseline file.
const (
	KindManifest = "manifest" // CSV/XLSX usage or backup manifest
	KindResults  = "results"  // results file of an earlier impact scan
)

// Folder is one folder's baseline.
type Folder struct {
	Name        string
	Messages    int64     // messages before the cutoff
	Bytes       int64     // -1 when not given
	UIDValidity uint32    // 0 when not given
	Oldest      time.Time // zero when not given
}

// Mailbox is one mailbox's baseline.
type Mailbox struct {
	Mailbox  string // as the inventory normalises it (domain lowercased)
	Source   string // "file:line" of its first row, or "file" for a results file
	Messages int64  // messages before the cutoff, all folders
	Bytes    int64  // -1 when not given
	// Folders is nil when the baseline gives mailbox totals only; sorted
	// by name otherwise.
	Folders []Folder
}

// Folder returns the baseline of the folder named name (INBOX matched
// without regard to case, RFC 9051 5.1), or false.
func (m *Mailbox) Folder(name string) (Folder, bool) {
	for _, f := range m.Folders {
		if f.Name == name || (strings.EqualFold(name, "INBOX") && strings.EqualFold(f.Name, "INBOX")) {
			return f, true
		}
	}
	return Folder{}, false
}

// Baseline is every mailbox a baseline file lists.
type Baseline struct {
	File string // base name of the file
	Kind string // KindManifest or KindResults
	// Columns maps the canonical field names found (mailbox, messages,
	// folder, bytes, uidvalidity, oldest) to the headers as written; nil
	// for a results file.
	Columns   map[string]string
	mailboxes map[string]*Mailbox // by lowercased mailbox
}

// Options controls Read.
type Options struct {
	// Sheet is the XLSX sheet of a manifest; "" for the first.
	Sheet string
	// Cutoff is the incident's cutoff. A results baseline taken before it
	// counts every message it saw; one taken after it (with the same
	// cutoff) counts its messages before the cutoff.
	Cutoff time.Time
}

// Read reads a baseline file. A file whose first non-blank byte is '{' is
// read as an impact results file (JSON Lines), anything else as a manifest
// (.csv, .txt or .xlsx). Errors name file:line.
func Read(path string, opts Options) (*Baseline, error) {
	isResults, err := looksLikeResults(path)
	if err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	if isResults {
		return readResults(path, opts)
	}
	return readManifest(path, opts)
}

func looksLikeResults(path string) (bool, error) {
	if strings.EqualFold(filepath.Ext(path), ".xlsx") {
		return false, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	b := make([]byte, 512)
	n, _ := bufio.NewReader(f).Read(b)
	b = bytes.TrimLeft(b[:n], " \t\r\n\uFEFF")
	b = bytes.TrimPrefix(b, []byte{0xEF, 0xBB, 0xBF})
	return len(b) > 0 && b[0] == '{', nil
}

// Lookup returns the baseline of mailbox (compared without regard to case),
// or nil.
func (b *Baseline) Lookup(mailbox string) *Mailbox {
	if b == nil {
		return nil
	}
	return b.mailboxes[strings.ToLower(mailbox)]
}

// Len is the number of mailboxes listed.
func (b *Baseline) Len() int { return len(b.mailboxes) }

// Mailboxes lists the mailboxes, sorted.
func (b *Baseline) Mailboxes() []string {
	out := make([]string, 0, len(b.mailboxes))
	for _, m := range b.mailboxes {
		out = append(out, m.Mailbox)
	}
	slices.Sort(out)
	return out
}

// readResults takes the latest record of every mailbox that logged in and
// was counted completely.
func readResults(path string, opts Options) (*Baseline, error) {
	name := filepath.Base(path)
	b := &Baseline{File: name, Kind: KindResults, mailboxes: map[string]*Mailbox{}}
	var cur *results.Scan
	err := results.Stream([]string{path}, func(sc *results.Scan) error {
		switch {
		case !opts.Cutoff.IsZero() && sc.StartedAt.Before(opts.Cutoff):
		case !opts.Cutoff.IsZero() && !sc.Cutoff.Equal(opts.Cutoff):
			return fmt.Errorf("baseline scan started %s, after the cutoff %s, with another cutoff (%s): its counts say nothing about mail before this cutoff",
				sc.StartedAt.Format(time.RFC3339), opts.Cutoff.Format(time.RFC3339), sc.Cutoff.Format(time.RFC3339))
		}
		s := *sc
		cur = &s
		return nil
	}, func(m *results.Mailbox) error {
		if cur == nil {
			return fmt.Errorf("mailbox record before the scan header: not a results file of impact scan")
		}
		if m.Login.Outcome != "ok" {
			return nil
		}
		before := !opts.Cutoff.IsZero() && cur.StartedAt.Before(opts.Cutoff)
		mb := &Mailbox{Mailbox: m.Mailbox, Source: name, Bytes: -1, Folders: []Folder{}}
		for _, f := range m.Folders {
			if !f.Countable {
				continue
			}
			n := f.BeforeCutoff
			if before {
				n = f.Messages
			}
			if n == nil {
				return nil // not counted completely: no baseline
			}
			bf := Folder{Name: f.Name, Messages: *n, Bytes: -1}
			if f.UIDValidity != nil {
				bf.UIDValidity = *f.UIDValidity
			}
			if f.Oldest != nil {
				bf.Oldest = *f.Oldest
			}
			mb.Messages += *n
			mb.Folders = append(mb.Folders, bf)
		}
		slices.SortFunc(mb.Folders, func(a, b Folder) int { return strings.Compare(a.Name, b.Name) })
		b.mailboxes[strings.ToLower(m.Mailbox)] = mb
		return nil
	}, func(*results.End) {}, func(string) {})
	if err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	if cur == nil {
		return nil, fmt.Errorf("read baseline %s: no scan header: not a results file of impact scan", name)
	}
	return b, nil
}
