package demo

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/textproto"
)

// message is a demo message as header fields and body, made from its
// folder, position and INTERNALDATE whenever it is needed, so that 100,000
// mailboxes cost no message storage.
type message struct {
	header [][2]string
	body   string
}

func (b *backend) message(u *user, f *folder, i int) message {
	t := b.time(f, i)
	_, domain, _ := strings.Cut(u.name, "@")
	from, to := "Demo Sender <sender@partner.example>", u.name
	if f.specialUse == imap.MailboxAttrSent || f.specialUse == imap.MailboxAttrDrafts {
		from, to = u.name, "Kundin <kundin@partner.example>"
	}
	return message{
		header: [][2]string{
			{"Date", t.Format(time.RFC1123Z)},
			{"From", from},
			{"To", to},
			{"Subject", fmt.Sprintf("Demo message %d", i+1)},
			{"Message-ID", fmt.Sprintf("<%d.%d.demo@%s>", f.uidValidity, f.uid(i), domain)},
			{"MIME-Version", "1.0"},
			{"Content-Type", "text/plain; charset=utf-8"},
		},
		body: fmt.Sprintf("Demo message %d in %s, received %s.\r\n", i+1, f.name, t.Format(time.RFC3339)),
	}
}

func (m message) headerBytes() []byte {
	var buf bytes.Buffer
	for _, kv := range m.header {
		buf.WriteString(kv[0])
		buf.WriteString(": ")
		buf.WriteString(kv[1])
		buf.WriteString("\r\n")
	}
	buf.WriteString("\r\n")
	return buf.Bytes()
}

// bytes is the RFC 5322 text of the message, CRLF line ends.
func (m message) bytes() []byte {
	return append(m.headerBytes(), m.body...)
}

// flags are the message's flags: drafts are \Draft and \Seen, sent mail is
// \Seen, other mail is \Seen when it arrived before the cutoff.
func (b *backend) flags(f *folder, i int) []imap.Flag {
	switch {
	case f.specialUse == imap.MailboxAttrDrafts:
		return []imap.Flag{imap.FlagSeen, imap.FlagDraft}
	case f.specialUse == imap.MailboxAttrSent, b.time(f, i).Before(b.cutoff):
		return []imap.Flag{imap.FlagSeen}
	}
	return []imap.Flag{}
}

func hasFlag(flags []imap.Flag, flag imap.Flag) bool {
	for _, f := range flags {
		if strings.EqualFold(string(f), string(flag)) {
			return true
		}
	}
	return false
}

// status fills every item STATUS can ask for; imapserver dereferences the
// pointers of the requested ones.
func (b *backend) status(u *user, f *folder, options *imap.StatusOptions) *imap.StatusData {
	num := uint32(len(f.times))
	var unseen, zero uint32
	for i := range f.times {
		if !hasFlag(b.flags(f, i), imap.FlagSeen) {
			unseen++
		}
	}
	var zero64 int64
	data := &imap.StatusData{
		Mailbox:        f.name,
		NumMessages:    &num,
		NumRecent:      &zero,
		UIDNext:        f.uidNext(),
		UIDValidity:    f.uidValidity,
		NumUnseen:      &unseen,
		NumDeleted:     &zero,
		DeletedStorage: &zero64,
	}
	if options.Size {
		var size int64
		for i := range f.times {
			size += int64(len(b.message(u, f, i).bytes()))
		}
		data.Size = &size
	}
	return data
}

// match evaluates SEARCH criteria for message i (RFC 9051 6.4.4). SINCE,
// BEFORE, SENTSINCE and SENTBEFORE compare dates in the server's zone, in
// which INTERNALDATE and the Date header are written.
func (b *backend) match(u *user, f *folder, i int, c *imap.SearchCriteria) bool {
	for _, set := range c.SeqNum {
		if !f.contains(set, i) {
			return false
		}
	}
	for _, set := range c.UID {
		if !f.contains(set, i) {
			return false
		}
	}
	day := dayNumber(b.time(f, i))
	for _, r := range [][2]time.Time{{c.Since, c.Before}, {c.SentSince, c.SentBefore}} {
		if !r[0].IsZero() && day < dayNumber(r[0]) || !r[1].IsZero() && day >= dayNumber(r[1]) {
			return false
		}
	}
	flags := b.flags(f, i)
	for _, flag := range c.Flag {
		if !hasFlag(flags, flag) {
			return false
		}
	}
	for _, flag := range c.NotFlag {
		if hasFlag(flags, flag) {
			return false
		}
	}
	if c.Larger != 0 || c.Smaller != 0 || len(c.Header) > 0 || len(c.Body) > 0 || len(c.Text) > 0 {
		m := b.message(u, f, i)
		raw := m.bytes()
		size := int64(len(raw))
		if c.Larger != 0 && size <= c.Larger || c.Smaller != 0 && size >= c.Smaller {
			return false
		}
		for _, h := range c.Header {
			if !m.hasHeader(h.Key, h.Value) {
				return false
			}
		}
		for _, s := range c.Body {
			if !containsFold(m.body, s) {
				return false
			}
		}
		for _, s := range c.Text {
			if !containsFold(string(raw), s) {
				return false
			}
		}
	}
	for j := range c.Not {
		if b.match(u, f, i, &c.Not[j]) {
			return false
		}
	}
	for _, or := range c.Or {
		if !b.match(u, f, i, &or[0]) && !b.match(u, f, i, &or[1]) {
			return false
		}
	}
	return true
}

// dayNumber is t's calendar date in t's own zone as yyyymmdd, for
// date-only comparisons.
func dayNumber(t time.Time) int {
	y, m, d := t.Date()
	return y*10000 + int(m)*100 + d
}

func containsFold(s, substr string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(substr))
}

// hasHeader reports whether a field named key contains value (any such
// field when value is empty), case-insensitively.
func (m message) hasHeader(key, value string) bool {
	for _, kv := range m.header {
		if strings.EqualFold(kv[0], key) && containsFold(kv[1], value) {
			return true
		}
	}
	return false
}

// fetch writes one FETCH response for message i.
func (b *backend) fetch(w *imapserver.FetchWriter, u *user, f *folder, i int, options *imap.FetchOptions) error {
	rw := w.CreateMessage(uint32(i + 1))
	if options.UID {
		rw.WriteUID(f.uid(i))
	}
	if options.Flags {
		rw.WriteFlags(b.flags(f, i))
	}
	if options.InternalDate {
		rw.WriteInternalDate(b.time(f, i))
	}
	var raw []byte
	if options.RFC822Size || options.Envelope || options.BodyStructure != nil ||
		len(options.BodySection) > 0 || len(options.BinarySection) > 0 || len(options.BinarySectionSize) > 0 {
		raw = b.message(u, f, i).bytes()
	}
	if options.RFC822Size {
		rw.WriteRFC822Size(int64(len(raw)))
	}
	if options.Envelope {
		h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			rw.Close()
			return fmt.Errorf("fetch %s %s %d: envelope: %w", u.name, f.name, i+1, err)
		}
		rw.WriteEnvelope(imapserver.ExtractEnvelope(h))
	}
	if options.BodyStructure != nil {
		rw.WriteBodyStructure(imapserver.ExtractBodyStructure(bytes.NewReader(raw)))
	}
	for _, bs := range options.BodySection {
		buf := imapserver.ExtractBodySection(bytes.NewReader(raw), bs)
		if err := writeLiteral(rw.WriteBodySection(bs, int64(len(buf))), buf); err != nil {
			rw.Close()
			return err
		}
	}
	for _, bs := range options.BinarySection {
		buf := imapserver.ExtractBinarySection(bytes.NewReader(raw), bs)
		if err := writeLiteral(rw.WriteBinarySection(bs, int64(len(buf))), buf); err != nil {
			rw.Close()
			return err
		}
	}
	for _, bss := range options.BinarySectionSize {
		rw.WriteBinarySectionSize(bss, imapserver.ExtractBinarySectionSize(bytes.NewReader(raw), bss))
	}
	return rw.Close()
}

func writeLiteral(wc interface {
	Write([]byte) (int, error)
	Close() error
}, buf []byte) error {
	_, err := wc.Write(buf)
	if cerr := wc.Close(); err == nil {
		err = cerr
	}
	return err
}
