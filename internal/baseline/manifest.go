package baseline

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/impact-ops/impact/internal/inventory"
)

// Canonical manifest fields, the keys of Baseline.Columns.
const (
	FieldMailbox     = "mailbox"
	FieldMessages    = "messages"
	FieldFolder      = "folder"
	FieldBytes       = "bytes"
	FieldUIDValidity = "uidvalidity"
	FieldOldest      = "oldest"
)

// aliases are the header names accepted for each manifest field, compared
// after inventory.HeaderKey (case, '-', '_' and spaces ignored).
var aliases = map[string][]string{
	FieldMailbox:     {"mailbox", "email", "e-mail", "login", "username", "user", "address", "account"},
	FieldMessages:    {"messages", "messages_before_cutoff", "count", "message_count", "messages_count", "num_messages", "msgs", "total_messages", "items", "mails"},
	FieldFolder:      {"folder", "folder_name", "imap_folder", "path"},
	FieldBytes:       {"bytes", "size", "size_bytes", "usage_bytes", "used_bytes", "quota_used"},
	FieldUIDValidity: {"uidvalidity", "uid_validity"},
	FieldOldest:      {"oldest", "oldest_message", "oldest_date", "first_message"},
}

var fieldOrder = []string{FieldMailbox, FieldMessages, FieldFolder, FieldBytes, FieldUIDValidity, FieldOldest}

func lookupField(h string) string {
	k := inventory.HeaderKey(h)
	for _, f := range fieldOrder {
		for _, a := range aliases[f] {
			if inventory.HeaderKey(a) == k {
				return f
			}
		}
	}
	return ""
}

func rowErr(file string, line int, col, msg string) error {
	return &inventory.RowError{File: file, Line: line, Column: col, Msg: msg}
}

// readManifest reads a CSV/XLSX manifest: one row per mailbox, or per
// folder when a folder column is present (the mailbox total is the sum).
// Errors are fatal and name file:line: a baseline with a wrong row would
// prove loss that did not happen.
func readManifest(path string, opts Options) (*Baseline, error) {
	name := filepath.Base(path)
	b := &Baseline{File: name, Kind: KindManifest, Columns: map[string]string{}, mailboxes: map[string]*Mailbox{}}
	col := map[string]int{}
	headers := map[string]string{}
	firstLine := map[string]int{} // mailbox/folder key -> line
	totalRow := map[string]bool{} // mailbox given as a total row
	header := func(r inventory.TableRow) error {
		var found []string
		for i, h := range r.Cells {
			if h == "" {
				continue
			}
			found = append(found, strconv.Quote(h))
			f := lookupField(h)
			if f == "" {
				continue
			}
			if _, ok := col[f]; ok {
				return rowErr(name, r.Line, "", fmt.Sprintf("columns %q and %q both give the %s; keep one", headers[f], h, f))
			}
			col[f], headers[f] = i, h
		}
		for _, need := range []string{FieldMailbox, FieldMessages} {
			if _, ok := col[need]; !ok {
				return rowErr(name, r.Line, "", fmt.Sprintf("no %s column: the header row has %s; name it one of: %s",
					need, strings.Join(found, ", "), strings.Join(aliases[need], ", ")))
			}
		}
		for f, h := range headers {
			b.Columns[f] = h
		}
		return nil
	}
	cell := func(cells []string, f string) string {
		if i, ok := col[f]; ok && i < len(cells) {
			return cells[i]
		}
		return ""
	}
	row := func(r inventory.TableRow) error {
		mbox, problem := inventory.NormalizeMailbox(cell(r.Cells, FieldMailbox))
		if problem != "" {
			return rowErr(name, r.Line, headers[FieldMailbox], "not a mailbox: "+problem)
		}
		n, err := parseCount(cell(r.Cells, FieldMessages))
		if err != nil {
			return rowErr(name, r.Line, headers[FieldMessages], err.Error())
		}
		f := Folder{Name: cell(r.Cells, FieldFolder), Messages: n, Bytes: -1}
		if s := cell(r.Cells, FieldBytes); s != "" {
			if f.Bytes, err = parseCount(s); err != nil {
				return rowErr(name, r.Line, headers[FieldBytes], err.Error())
			}
		}
		if s := cell(r.Cells, FieldUIDValidity); s != "" {
			v, err := strconv.ParseUint(s, 10, 32)
			if err != nil || v == 0 {
				return rowErr(name, r.Line, headers[FieldUIDValidity], fmt.Sprintf("%q: want a UIDVALIDITY, a whole number from 1 to 4294967295", s))
			}
			f.UIDValidity = uint32(v)
		}
		if s := cell(r.Cells, FieldOldest); s != "" {
			if f.Oldest, err = parseTime(s); err != nil {
				return rowErr(name, r.Line, headers[FieldOldest], err.Error())
			}
		}
		key := strings.ToLower(mbox)
		fkey := key + "\x00" + f.Name
		if prev, ok := firstLine[fkey]; ok {
			what := "mailbox " + mbox
			if f.Name != "" {
				what += " folder " + strconv.Quote(f.Name)
			}
			return rowErr(name, r.Line, "", fmt.Sprintf("%s is listed again (first at line %d): give each once", what, prev))
		}
		firstLine[fkey] = r.Line
		m := b.mailboxes[key]
		if m == nil {
			m = &Mailbox{Mailbox: mbox, Source: fmt.Sprintf("%s:%d", name, r.Line), Bytes: -1}
			b.mailboxes[key] = m
		}
		isTotal := f.Name == ""
		if prevTotal, seen := totalRow[key]; seen && prevTotal != isTotal {
			return rowErr(name, r.Line, headers[FieldFolder], fmt.Sprintf("mailbox %s has both a row without a folder (a total) and folder rows: give one or the other", mbox))
		}
		totalRow[key] = isTotal
		m.Messages += n
		if f.Bytes >= 0 {
			m.Bytes = max(m.Bytes, 0) + f.Bytes
		}
		if !isTotal {
			m.Folders = append(m.Folders, f)
		} else if f.UIDValidity != 0 {
			// A total row with a UIDVALIDITY can only mean INBOX.
			f.Name = "INBOX"
			m.Folders = append(m.Folders, f)
		}
		return nil
	}
	if err := inventory.ReadTable(path, opts.Sheet, header, row); err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	for _, m := range b.mailboxes {
		slices.SortFunc(m.Folders, func(a, b Folder) int { return strings.Compare(a.Name, b.Name) })
	}
	return b, nil
}

// parseCount reads a non-negative whole number; a spreadsheet's "1234.0" and
// thousands grouped with ',' or spaces ("1,234", "1 234") are accepted.
func parseCount(s string) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty: want a number of messages (0 when the mailbox was empty)")
	}
	t := strings.TrimSuffix(s, ".0")
	if strings.ContainsAny(t, ", \u00A0\u202F") {
		groups := strings.FieldsFunc(t, func(r rune) bool { return r == ',' || r == ' ' || r == '\u00A0' || r == '\u202F' })
		ok := len(groups) > 1 && len(groups[0]) <= 3
		for _, g := range groups[1:] {
			ok = ok && len(g) == 3
		}
		if !ok {
			return 0, fmt.Errorf("%q: want a whole number of messages, e.g. 1234", s)
		}
		t = strings.Join(groups, "")
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q: want a whole number of messages, e.g. 1234", s)
	}
	return n, nil
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, time.DateOnly, time.DateTime, "2006-01-02 15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: want a date, YYYY-MM-DD or RFC 3339", s)
}
