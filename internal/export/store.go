package export

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
	"unsafe"

	"github.com/impact-ops/impact/internal/results"
)

// store holds what the sheets show of every mailbox record, packed into
// byte chunks: a million records take about 130 MB instead of the 1.5 GB of
// the decoded records (whose per-folder detail no sheet shows). Each record
// is a blob of varint-prefixed fields; its offset names the chunk (high 32
// bits) and the position in it. Texts that repeat across mailboxes (impact,
// evidence, product, server text, ...) are stored once and referred to by
// number.
//
// Chunks have a fixed capacity and are never reallocated (a growing single
// array would briefly hold the old and the new copy: twice the memory), and
// no byte is changed once written, so strings decoded from them
// (unsafe.String, no copy) stay valid for the store's life.
type store struct {
	chunks   [][]byte
	blob     []byte // the record being encoded
	interned []string
	internAt map[string]uint64
	offsets  []int // blob offset of every record added, in Add order
}

// chunkSize is the capacity of a chunk; a larger blob gets a chunk of its
// own.
const chunkSize = 4 << 20

// Interning stops at this many distinct texts; later texts are stored
// inline. It bounds the table when a field turns out to be unique per
// mailbox (an error naming the mailbox, say).
const (
	maxInterned    = 1 << 16
	maxInternedLen = 512
)

// mrow is one decoded mailbox record. Its strings point into the store.
type mrow struct {
	Mailbox, AccountID, CustomerType string
	Impact                           results.Impact
	Evidence                         string
	Outcome, Code, ServerText        string // login outcome, RFC 5530 response code, the server's text
	Uncountable                      string // folders whose counts are unknown, "name: error", joined
	Product, Created                 string
	Contact, Phone                   string
	Error                            string
	Attempts                         string // earlier failures joined with " | "
	NAttempts                        int
	Before, After                    int64
	HasBefore, HasAfter              bool
	Oldest, Newest, ProbedAt         time.Time // zero: not known
	Folders                          int       // -1: no folder list (never opened)
	DurationMS                       int64

	// Evidence beyond the probe (issue 5).
	SentBefore     int64 // Date header before the cutoff's day
	HasSent        bool
	DateMismatch   bool
	DateBasis      string
	BaselineSource string // "" without a baseline check
	BaselineMsgs   int64
	Missing        int64
	SharePermille  int64  // Missing / baseline messages, in 1/1000
	FoldersShort   string // "name present/baseline" or "name gone", joined
	Recreated      string // "name (evidence)", joined
	Progress       string
}

// Presence flags of a blob.
const (
	hasBefore = 1 << iota
	hasAfter
	hasOldest
	hasNewest
	hasProbedAt
	hasFolders
)

// field kinds: interned fields go through the table, the others are always
// inline.
const (
	inline   = false
	internIt = true
)

func (s *store) putStr(v string, intern bool) {
	if v == "" {
		s.blob = append(s.blob, 0)
		return
	}
	if intern && len(v) <= maxInternedLen {
		id, ok := s.internAt[v]
		if !ok && len(s.interned) < maxInterned {
			if s.internAt == nil {
				s.internAt = map[string]uint64{}
			}
			id = uint64(len(s.interned))
			s.interned = append(s.interned, strings.Clone(v))
			s.internAt[s.interned[id]] = id
			ok = true
		}
		if ok {
			s.blob = binary.AppendUvarint(s.blob, id<<1|1)
			return
		}
	}
	s.blob = binary.AppendUvarint(s.blob, uint64(len(v))<<1)
	s.blob = append(s.blob, v...)
}

func (s *store) putTime(t time.Time) {
	s.blob = binary.AppendVarint(s.blob, t.Unix())
	s.blob = binary.AppendUvarint(s.blob, uint64(t.Nanosecond()))
}

// errNoMailbox rejects a record without a mailbox name: it could not be
// found, sorted or told from another.
var errNoMailbox = errors.New("mailbox record without a mailbox")

// add packs m. The record is copied: m may be reused afterwards.
func (s *store) add(m *results.Mailbox) error {
	if m == nil || m.Mailbox == "" {
		return errNoMailbox
	}
	s.blob = s.blob[:0]
	// The mailbox always comes first and inline: sorting reads it alone.
	s.blob = binary.AppendUvarint(s.blob, uint64(len(m.Mailbox)))
	s.blob = append(s.blob, m.Mailbox...)
	s.putStr(m.AccountID, inline)
	s.putStr(m.CustomerType, internIt)
	s.putStr(string(m.Impact), internIt)
	s.putStr(m.Evidence, internIt)
	s.putStr(m.Login.Outcome, internIt)
	s.putStr(m.Login.Code, internIt)
	s.putStr(m.Login.Text, internIt)
	s.putStr(uncountable(m.Folders), internIt)
	s.putStr(m.Product, internIt)
	s.putStr(m.Created, internIt)
	s.putStr(m.ContactName, inline)
	s.putStr(m.ContactPhone, inline)
	s.putStr(m.Error, internIt)
	s.putStr(strings.Join(m.Attempts, " | "), internIt)

	var flags uint64
	if m.BeforeCutoff != nil {
		flags |= hasBefore
	}
	if m.AfterCutoff != nil {
		flags |= hasAfter
	}
	if m.Oldest != nil {
		flags |= hasOldest
	}
	if m.Newest != nil {
		flags |= hasNewest
	}
	if !m.ProbedAt.IsZero() {
		flags |= hasProbedAt
	}
	if m.Folders != nil {
		flags |= hasFolders
	}
	s.blob = binary.AppendUvarint(s.blob, flags)
	if m.BeforeCutoff != nil {
		s.blob = binary.AppendVarint(s.blob, *m.BeforeCutoff)
	}
	if m.AfterCutoff != nil {
		s.blob = binary.AppendVarint(s.blob, *m.AfterCutoff)
	}
	if m.Oldest != nil {
		s.putTime(*m.Oldest)
	}
	if m.Newest != nil {
		s.putTime(*m.Newest)
	}
	if !m.ProbedAt.IsZero() {
		s.putTime(m.ProbedAt)
	}
	if m.Folders != nil {
		s.blob = binary.AppendUvarint(s.blob, uint64(len(m.Folders)))
	}
	s.blob = binary.AppendUvarint(s.blob, uint64(len(m.Attempts)))
	s.blob = binary.AppendVarint(s.blob, m.DurationMS)
	s.putEvidence(m)
	s.offsets = append(s.offsets, s.keep(s.blob))
	return nil
}

// putEvidence appends the baseline, date and progress fields.
func (s *store) putEvidence(m *results.Mailbox) {
	var flags uint64
	if m.SentBeforeCutoff != nil {
		flags |= 1
	}
	if m.DateMismatch {
		flags |= 2
	}
	if m.Baseline != nil {
		flags |= 4
	}
	s.blob = binary.AppendUvarint(s.blob, flags)
	if m.SentBeforeCutoff != nil {
		s.blob = binary.AppendVarint(s.blob, *m.SentBeforeCutoff)
	}
	s.putStr(m.DateBasis, internIt)
	if b := m.Baseline; b != nil {
		s.putStr(b.Source, inline)
		s.blob = binary.AppendVarint(s.blob, b.Messages)
		s.blob = binary.AppendVarint(s.blob, b.Missing)
		s.blob = binary.AppendVarint(s.blob, int64(b.Share*1000+0.5))
		var short []string
		for _, f := range b.Folders {
			switch {
			case f.Gone:
				short = append(short, fmt.Sprintf("%s gone (%d)", f.Name, f.Baseline))
			case f.Missing > 0:
				short = append(short, fmt.Sprintf("%s %d/%d", f.Name, f.Present, f.Baseline))
			}
		}
		s.putStr(strings.Join(short, ", "), internIt)
	}
	var rec []string
	for _, r := range m.Recreated {
		rec = append(rec, r.Folder+" ("+r.Evidence+")")
	}
	s.putStr(strings.Join(rec, ", "), internIt)
	s.putStr(m.Progress, internIt)
}

// keep copies blob into a chunk and returns its offset.
func (s *store) keep(blob []byte) int {
	last := len(s.chunks) - 1
	if last < 0 || cap(s.chunks[last])-len(s.chunks[last]) < len(blob) {
		s.chunks = append(s.chunks, make([]byte, 0, max(chunkSize, len(blob))))
		last++
	}
	c := s.chunks[last]
	off := last<<32 | len(c)
	s.chunks[last] = append(c, blob...)
	return off
}

// at returns the chunk and position of offset off.
func (s *store) at(off int) ([]byte, int) {
	return s.chunks[off>>32], off & (1<<32 - 1)
}

// reader decodes a blob field by field.
type reader struct {
	s   *store
	buf []byte // the blob's chunk
	pos int
}

func (s *store) reader(off int) reader {
	buf, pos := s.at(off)
	return reader{s: s, buf: buf, pos: pos}
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.buf[r.pos:])
	r.pos += n
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.buf[r.pos:])
	r.pos += n
	return v
}

func (r *reader) bytes(n int) string {
	if n == 0 {
		return ""
	}
	v := unsafe.String(&r.buf[r.pos], n)
	r.pos += n
	return v
}

func (r *reader) str() string {
	v := r.uvarint()
	if v&1 == 1 {
		return r.s.interned[v>>1]
	}
	return r.bytes(int(v >> 1))
}

func (r *reader) time() time.Time {
	sec := r.varint()
	return time.Unix(sec, int64(r.uvarint())).UTC()
}

// mailbox returns the mailbox name of the blob at off.
func (s *store) mailbox(off int) string {
	r := s.reader(off)
	return r.bytes(int(r.uvarint()))
}

// head decodes the fields that group and rank: mailbox, account, customer
// type and impact.
func (s *store) head(off int) (mailbox, account, customerType string, impact results.Impact) {
	r := s.reader(off)
	mailbox = r.bytes(int(r.uvarint()))
	account = r.str()
	customerType = r.str()
	impact = results.Impact(r.str())
	return
}

// decode fills m from the blob at off.
func (s *store) decode(off int, m *mrow) {
	r := s.reader(off)
	m.Mailbox = r.bytes(int(r.uvarint()))
	m.AccountID = r.str()
	m.CustomerType = r.str()
	m.Impact = results.Impact(r.str())
	m.Evidence = r.str()
	m.Outcome = r.str()
	m.Code = r.str()
	m.ServerText = r.str()
	m.Uncountable = r.str()
	m.Product = r.str()
	m.Created = r.str()
	m.Contact = r.str()
	m.Phone = r.str()
	m.Error = r.str()
	m.Attempts = r.str()
	flags := r.uvarint()
	m.HasBefore, m.HasAfter = flags&hasBefore != 0, flags&hasAfter != 0
	m.Before, m.After = 0, 0
	if m.HasBefore {
		m.Before = r.varint()
	}
	if m.HasAfter {
		m.After = r.varint()
	}
	m.Oldest, m.Newest, m.ProbedAt = time.Time{}, time.Time{}, time.Time{}
	if flags&hasOldest != 0 {
		m.Oldest = r.time()
	}
	if flags&hasNewest != 0 {
		m.Newest = r.time()
	}
	if flags&hasProbedAt != 0 {
		m.ProbedAt = r.time()
	}
	m.Folders = -1
	if flags&hasFolders != 0 {
		m.Folders = int(r.uvarint())
	}
	m.NAttempts = int(r.uvarint())
	m.DurationMS = r.varint()

	ev := r.uvarint()
	m.HasSent, m.DateMismatch, m.SentBefore = ev&1 != 0, ev&2 != 0, 0
	if m.HasSent {
		m.SentBefore = r.varint()
	}
	m.DateBasis = r.str()
	m.BaselineSource, m.BaselineMsgs, m.Missing, m.SharePermille, m.FoldersShort = "", 0, 0, 0, ""
	if ev&4 != 0 {
		m.BaselineSource = r.str()
		m.BaselineMsgs = r.varint()
		m.Missing = r.varint()
		m.SharePermille = r.varint()
		m.FoldersShort = r.str()
	}
	m.Recreated = r.str()
	m.Progress = r.str()
}
