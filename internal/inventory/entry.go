package inventory

import (
	"encoding/binary"
	"strconv"
	"strings"
	"time"
)

// Entry is one mailbox of the inventory after normalisation. It is a small
// value (24 bytes on 64-bit machines) that reads its fields from one packed
// string, so an inventory of a million mailboxes costs little more than its
// text. Copying an Entry copies no text. Build one with NewEntry; the zero
// Entry has every field empty.
//
// Mailbox is the IMAP login (usually an address, domain lowercased, white
// space and non-breaking spaces trimmed). AccountID is kept as text exactly
// as billing wrote it ("00420" stays "00420"); it is the mailbox when the
// inventory has no account column or the cell is empty.
//
// Printing an Entry with fmt shows its source and mailbox only: the
// password never reaches a log line that way.
type Entry struct {
	// text holds, in this order: the uvarint byte lengths of mailbox,
	// account ID, contact name and contact phone; the uvarint source line
	// (0: none); the created time (see appendCreated); then the mailbox,
	// account ID ("" when it is the mailbox), contact name, contact phone
	// and password bytes.
	text string
	// attr holds the values most rows share; the reader hands the same
	// *attrs to all rows that agree on them.
	attr *attrs
}

// attrs are the low-cardinality fields of entries, shared between entries.
type attrs struct {
	customerType, product, access string
	// file is the source file name; with a line, Source is "file:line".
	file string
}

// Fields are the values of an Entry, for building one with NewEntry and
// reading all of them at once with Entry.Fields.
type Fields struct {
	Mailbox      string
	AccountID    string // "" means: the same as Mailbox
	CustomerType string // raw inventory value, e.g. "Business", "" when absent
	Product      string
	Access       string    // raw access column, e.g. "imap", "webmail", "pop3"
	Created      time.Time // date the account was opened; zero when absent
	ContactName  string
	ContactPhone string
	// Password is the mailbox's own password, read only for --auth password.
	// It must never be logged, written to results or shown in reports.
	Password string
	// Source is where the entry came from, for messages: "file:line".
	Source string
}

// NewEntry packs f into an Entry. Created keeps its instant to the
// nanosecond and its zone offset, not the zone's name.
func NewEntry(f Fields) Entry {
	if f.AccountID == f.Mailbox {
		f.AccountID = ""
	}
	a := &attrs{customerType: f.CustomerType, product: f.Product, access: f.Access, file: f.Source}
	return packEntry(nil, a, 0, f.Created, f.Mailbox, f.AccountID, f.ContactName, f.ContactPhone, f.Password)
}

// arenaChunk is the size of the blocks the reader packs entries into.
const arenaChunk = 64 << 10

// packEntry builds an entry whose text is appended to arena when arena is
// not nil (the reader's way to keep many entries in few allocations, with
// no size-class rounding per entry), else allocated on its own.
func packEntry(arena *strings.Builder, a *attrs, line int, created time.Time, mailbox, account, name, phone, password string) Entry {
	var hdr [64]byte
	h := hdr[:0]
	for _, s := range [...]string{mailbox, account, name, phone} {
		h = binary.AppendUvarint(h, uint64(len(s)))
	}
	h = binary.AppendUvarint(h, uint64(line))
	h = appendCreated(h, created)
	n := len(h) + len(mailbox) + len(account) + len(name) + len(phone) + len(password)
	var own strings.Builder
	switch {
	case arena == nil:
		arena = &own
	case arena.Cap()-arena.Len() < n:
		// Start a new chunk; the entries in the old one keep it alive.
		*arena = strings.Builder{}
		arena.Grow(max(arenaChunk, n))
	}
	arena.Grow(n)
	start := arena.Len()
	arena.Write(h)
	for _, s := range [...]string{mailbox, account, name, phone, password} {
		arena.WriteString(s)
	}
	// A Builder only ever appends: a string it handed out earlier stays
	// valid and unchanged while later entries are written after it.
	return Entry{text: arena.String()[start:], attr: a}
}

// appendCreated encodes a time as: uvarint 0 when t is zero; else uvarint
// 1 + (zigzag(Unix seconds) << 1 | has nanoseconds), the uvarint
// nanoseconds when there are any, and the varint zone offset in seconds.
func appendCreated(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendUvarint(b, 0)
	}
	sec, nsec := t.Unix(), t.Nanosecond()
	code := (uint64(sec<<1) ^ uint64(sec>>63)) << 1
	if nsec != 0 {
		code |= 1
	}
	b = binary.AppendUvarint(b, code+1)
	if nsec != 0 {
		b = binary.AppendUvarint(b, uint64(nsec))
	}
	_, off := t.Zone()
	return binary.AppendVarint(b, int64(off))
}

// entryLayout is where an entry's parts are in its text.
type entryLayout struct {
	lens    [4]int // mailbox, account, name, phone
	line    int
	created int // offset of the encoded created time
	body    int // offset of the mailbox
}

func (e Entry) layout() entryLayout {
	var l entryLayout
	var v uint64
	p := 0
	for i := range l.lens {
		v, p = uvarint(e.text, p)
		l.lens[i] = int(v)
	}
	v, p = uvarint(e.text, p)
	l.line, l.created = int(v), p
	code, p := uvarint(e.text, p)
	if code != 0 {
		if (code-1)&1 != 0 {
			_, p = uvarint(e.text, p)
		}
		_, p = uvarint(e.text, p)
	}
	l.body = p
	return l
}

// uvarint decodes the uvarint at s[p:] (as encoding/binary writes it) and
// returns it with the offset after it.
func uvarint(s string, p int) (uint64, int) {
	var v uint64
	for shift := 0; p < len(s); shift += 7 {
		c := s[p]
		p++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			break
		}
	}
	return v, p
}

func unzigzag(v uint64) int64 { return int64(v>>1) ^ -int64(v&1) }

// part returns the k-th of mailbox, account, name, phone and password.
func (e Entry) part(k int) string {
	if e.text == "" {
		return ""
	}
	l := e.layout()
	p := l.body
	for i := range k {
		p += l.lens[i]
	}
	if k == len(l.lens) {
		return e.text[p:]
	}
	return e.text[p : p+l.lens[k]]
}

// Mailbox is the IMAP login.
func (e Entry) Mailbox() string { return e.part(0) }

// AccountID is the account as billing wrote it; the mailbox when the
// inventory gave none.
func (e Entry) AccountID() string {
	if a := e.part(1); a != "" {
		return a
	}
	return e.Mailbox()
}

// ContactName is the contact's name, "" when absent.
func (e Entry) ContactName() string { return e.part(2) }

// ContactPhone is the contact's telephone number, "" when absent.
func (e Entry) ContactPhone() string { return e.part(3) }

// Password is the mailbox's own password, "" unless read for --auth
// password. It must never be logged, written to results or shown in
// reports.
func (e Entry) Password() string { return e.part(4) }

// CustomerType is the raw inventory value, e.g. "Business"; "" when absent.
func (e Entry) CustomerType() string {
	if e.attr == nil {
		return ""
	}
	return e.attr.customerType
}

// Product is the raw product value, "" when absent.
func (e Entry) Product() string {
	if e.attr == nil {
		return ""
	}
	return e.attr.product
}

// Access is the raw access column, e.g. "imap", "webmail", "pop3"; ""
// when absent.
func (e Entry) Access() string {
	if e.attr == nil {
		return ""
	}
	return e.attr.access
}

// Created is the date the account was opened; the zero time when absent.
// Its location is a fixed zone with the offset it was written with (UTC
// when none).
func (e Entry) Created() time.Time {
	if e.text == "" {
		return time.Time{}
	}
	code, p := uvarint(e.text, e.layout().created)
	if code == 0 {
		return time.Time{}
	}
	code--
	var nsec, off uint64
	if code&1 != 0 {
		nsec, p = uvarint(e.text, p)
	}
	off, _ = uvarint(e.text, p)
	t := time.Unix(unzigzag(code>>1), int64(nsec))
	if off == 0 {
		return t.UTC()
	}
	return t.In(time.FixedZone("", int(unzigzag(off))))
}

// Source is where the entry came from, for messages: "file:line".
func (e Entry) Source() string {
	file := ""
	if e.attr != nil {
		file = e.attr.file
	}
	if line := e.layout().line; line > 0 {
		return file + ":" + strconv.Itoa(line)
	}
	return file
}

// Fields returns all of the entry's values. AccountID is filled in with the
// mailbox when the inventory gave none.
func (e Entry) Fields() Fields {
	return Fields{
		Mailbox: e.Mailbox(), AccountID: e.AccountID(), CustomerType: e.CustomerType(), Product: e.Product(),
		Access: e.Access(), Created: e.Created(), ContactName: e.ContactName(), ContactPhone: e.ContactPhone(),
		Password: e.Password(), Source: e.Source(),
	}
}

// String names the entry by source and mailbox, never showing the password.
func (e Entry) String() string { return e.Source() + " " + e.Mailbox() }

// GoString is String, so that %#v does not show the password either.
func (e Entry) GoString() string { return "inventory.Entry(" + e.String() + ")" }
