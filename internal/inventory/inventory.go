package inventory

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Options tell Read how to read an inventory.
type Options struct {
	// Sheet is the XLSX sheet to read; "" reads the first sheet. It must be
	// "" for CSV files.
	Sheet string
	// NeedPassword requires a password column and reads it into
	// Entry.Password (--auth password). Without it a password column is
	// ignored and never read into an Entry.
	NeedPassword bool
}

// Inventory is the content of an inventory file.
type Inventory struct {
	// Entries holds the accepted rows in file order, one per mailbox.
	Entries []Entry
	// Rejected lists the problems of the rows that were not accepted, in
	// file order. A row with several bad values has one RowError per value.
	Rejected []RowError
	// RejectedRows counts the rows that were not accepted.
	RejectedRows int
	// Duplicates lists the rows dropped because an earlier row has the
	// same mailbox, in file order.
	Duplicates []Duplicate
	// Columns maps each canonical field read (Field* constants) to its
	// header as written in the file, for --dry-run display.
	Columns map[string]string
	// Ignored lists, as written, the headers that name no field (and the
	// password column when passwords are not needed).
	Ignored []string
	// Sheet is the XLSX sheet that was read; "" for CSV.
	Sheet string
	// Separator is the CSV field separator used; 0 for XLSX.
	Separator rune
}

// RowError is a problem with one row, or with the file at one line.
type RowError struct {
	File   string // base name of the inventory file
	Line   int    // 1-based line (CSV) or row (XLSX) number; 0 when none applies
	Column string // header as written ("C (Email)" in XLSX), "" for the whole row
	Msg    string // what was expected and what was found
}

// Error formats the problem as "file:line: column: msg", leaving out the
// parts that are empty.
func (e RowError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Column != "" {
		b.WriteString(e.Column)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Duplicate is a row dropped because an earlier row has the same mailbox,
// compared without regard to case and surrounding white space.
type Duplicate struct {
	Mailbox   string // mailbox of the kept entry
	Source    string // "file:line" of the kept entry
	Duplicate string // "file:line" of the dropped row
	// Conflict lists the fields in which the dropped row disagrees with
	// the kept entry, e.g. "account_id 00420 vs 0420; product Pro vs Basic";
	// "" when they agree. Passwords, when read, are only said to differ
	// ("password differs"), never shown.
	Conflict string
}

// Read reads the inventory at path. The format follows the extension: .csv
// and .txt are CSV, .xlsx is an Excel workbook (see the package
// documentation for the columns and values accepted).
//
// Problems with single rows do not stop reading: those rows are reported in
// Inventory.Rejected. Problems with the file as a whole (unreadable, unknown
// format, unknown sheet, no header row, no mailbox column, two columns for
// one field, invalid UTF-8) return an error; when it concerns a place in
// the file the error is a *RowError naming file and line.
func Read(path string, opts Options) (*Inventory, error) {
	name := filepath.Base(path)
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".csv", ".txt":
		if opts.Sheet != "" {
			return nil, fmt.Errorf("read inventory %s: a sheet (%q) was named but a CSV file has no sheets", name, opts.Sheet)
		}
		return readCSV(path, name, opts)
	case ".xlsx":
		return readXLSX(path, name, opts)
	default:
		hint := ""
		if ext == ".xls" {
			hint = " (save the .xls workbook as .xlsx)"
		}
		return nil, fmt.Errorf("read inventory %s: unknown format %q: accepted are .csv, .txt (CSV, UTF-8) and .xlsx%s", name, ext, hint)
	}
}

// builder turns rows into entries, rejections and duplicates. It keeps
// nothing of a row but the normalised values it accepts.
type builder struct {
	inv          *Inventory
	file         string
	lay          *layout
	needPassword bool
	// fieldLine gives the line a cell starts on when it may differ from
	// the row's (CSV quoted fields span lines); nil when it cannot.
	fieldLine func(col int) int
	seen      *mailboxTable // the entries by mailboxKey, for duplicates
	// arena collects the text of many entries in one allocation.
	arena strings.Builder
	// attrs shares the customer type, product and access between the rows
	// that agree on them, which in an inventory is nearly all of them.
	attrs    map[attrs]*attrs
	rejected bool // the current row has a problem
	date1904 bool // XLSX workbook counts serial dates from 1904
}

// maxAttrs limits the distinct (customer type, product, access)
// combinations the builder shares; rows beyond it get their own copy, so a
// column of unique values cannot grow the map without bound.
const maxAttrs = 1 << 16

func newBuilder(inv *Inventory, file string, lay *layout, needPassword bool) *builder {
	return &builder{inv: inv, file: file, lay: lay, needPassword: needPassword, seen: newMailboxTable(), attrs: make(map[attrs]*attrs)}
}

// expect prepares for about n entries in all.
func (b *builder) expect(n int) {
	n = min(n, 50_000_000) // a bad estimate must not exhaust memory
	if n <= len(b.inv.Entries) {
		return
	}
	b.inv.Entries = slices.Grow(b.inv.Entries, n-len(b.inv.Entries))
	b.seen.reserve(b.inv.Entries, n)
}

// get returns the trimmed value of a field, "" when absent.
func (b *builder) get(cells []string, f field) string {
	i := b.lay.col[f]
	if i < 0 || i >= len(cells) {
		return ""
	}
	return clean(cells[i])
}

// reject records a problem with field f of the current row.
func (b *builder) reject(line int, f field, msg string) {
	if b.fieldLine != nil {
		line = b.fieldLine(b.lay.col[f])
	}
	b.inv.Rejected = append(b.inv.Rejected, RowError{File: b.file, Line: line, Column: b.lay.label[f], Msg: msg})
	b.rejected = true
}

// rejectRow records a problem with a whole row.
func (b *builder) rejectRow(line int, msg string) {
	b.inv.Rejected = append(b.inv.Rejected, RowError{File: b.file, Line: line, Msg: msg})
	b.inv.RejectedRows++
}

// add normalises and records one non-empty row starting at line. For XLSX,
// rawCreated is the stored value of the created cell (hasRaw true).
func (b *builder) add(line int, cells []string, rawCreated string, hasRaw bool) {
	b.rejected = false
	var v [numFields]string
	for f := range fPassword {
		v[f] = b.get(cells, f)
	}

	if v[fMailbox] == "" {
		b.reject(line, fMailbox, "expected a mailbox such as user@example.net, got an empty cell")
	} else if m, problem := normMailbox(v[fMailbox]); problem != "" {
		b.reject(line, fMailbox, fmt.Sprintf("expected a mailbox such as user@example.net, got %q (%s)", v[fMailbox], problem))
	} else {
		v[fMailbox] = m
	}
	if isLostNumber(v[fAccountID]) {
		b.reject(line, fAccountID, fmt.Sprintf(
			"expected an account number, got %q: the spreadsheet stored it as a number and dropped digits; format the column as Text and enter the numbers again",
			v[fAccountID]))
	}
	var created time.Time
	if v[fCreated] != "" || (hasRaw && clean(rawCreated) != "") {
		var err error
		if hasRaw {
			created, err = parseXLSXDate(clean(rawCreated), v[fCreated], b.date1904)
		} else {
			created, err = parseDate(v[fCreated])
		}
		if err != nil {
			b.reject(line, fCreated, err.Error())
		}
	}
	if b.needPassword {
		// Passwords are kept exactly as written: spaces may belong to them.
		if i := b.lay.col[fPassword]; i < len(cells) {
			v[fPassword] = cells[i]
		}
		if clean(v[fPassword]) == "" {
			b.reject(line, fPassword, "expected the mailbox's password (password authentication), got an empty cell")
		}
	}
	if b.rejected {
		b.inv.RejectedRows++
		return
	}

	if first := b.seen.find(b.inv.Entries, v[fMailbox]); first >= 0 {
		b.duplicate(b.inv.Entries[first], line, &v, created)
		return
	}
	if v[fAccountID] == v[fMailbox] {
		v[fAccountID] = "" // the default: no need to keep it twice
	}
	e := packEntry(&b.arena, b.shared(v[fCustomerType], v[fProduct], v[fAccess]), line, created,
		v[fMailbox], v[fAccountID], v[fContactName], v[fContactPhone], v[fPassword])
	b.inv.Entries = append(b.inv.Entries, e)
	b.seen.add(b.inv.Entries, len(b.inv.Entries)-1)
}

// shared returns the attrs of a row, the same pointer for rows that agree.
// The values are copied: they may point into the reader's record.
func (b *builder) shared(customerType, product, access string) *attrs {
	k := attrs{customerType: customerType, product: product, access: access, file: b.file}
	if a, ok := b.attrs[k]; ok {
		return a
	}
	a := &attrs{customerType: strings.Clone(customerType), product: strings.Clone(product), access: strings.Clone(access), file: b.file}
	if len(b.attrs) < maxAttrs {
		b.attrs[*a] = a
	}
	return a
}

// duplicate records a row whose mailbox an earlier entry already has.
func (b *builder) duplicate(first Entry, line int, v *[numFields]string, created time.Time) {
	// An empty account_id defaults to the mailbox, whose case may differ
	// between the rows: compare the cells as written (an account equal to
	// the mailbox was kept as empty).
	firstAccount := first.part(1)
	if v[fAccountID] == v[fMailbox] {
		v[fAccountID] = ""
	}
	var conflicts []string
	diff := func(f field, a, b string) {
		if a != b {
			conflicts = append(conflicts, fieldNames[f]+" "+show(a)+" vs "+show(b))
		}
	}
	diff(fAccountID, firstAccount, v[fAccountID])
	diff(fCustomerType, first.CustomerType(), v[fCustomerType])
	diff(fProduct, first.Product(), v[fProduct])
	diff(fCreated, showTime(first.Created()), showTime(created))
	diff(fAccess, first.Access(), v[fAccess])
	diff(fContactName, first.ContactName(), v[fContactName])
	diff(fContactPhone, first.ContactPhone(), v[fContactPhone])
	if first.Password() != v[fPassword] {
		conflicts = append(conflicts, "password differs") // never the values
	}
	b.inv.Duplicates = append(b.inv.Duplicates, Duplicate{
		Mailbox:   first.Mailbox(),
		Source:    first.Source(),
		Duplicate: b.file + ":" + strconv.Itoa(line),
		Conflict:  strings.Join(conflicts, "; "),
	})
}

func show(s string) string {
	if s == "" || strings.ContainsFunc(s, unicode.IsControl) {
		// A line break in a cell must not break the warning's line.
		return strconv.Quote(s)
	}
	return s
}

func showTime(t time.Time) string {
	switch {
	case t.IsZero():
		return ""
	case t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0:
		return t.Format(time.DateOnly)
	default:
		return t.Format(time.RFC3339)
	}
}

// allBlank reports a row with nothing in it but white space.
func allBlank(cells []string) bool {
	for _, c := range cells {
		if clean(c) != "" {
			return false
		}
	}
	return true
}
