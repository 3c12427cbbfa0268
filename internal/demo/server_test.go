package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/impact-ops/impact/internal/inventory"
	"github.com/impact-ops/impact/internal/results"
	"github.com/impact-ops/impact/internal/syncbuf"
)

func startServer(t testing.TB, inc *Incident) *Server {
	t.Helper()
	s, err := Start(t.Context(), inc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// dial connects a client that is closed after 30 s whatever happens:
// go-imap's client has no deadlines of its own.
func dial(t testing.TB, addr string, options *imapclient.Options) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, options)
	if err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(30*time.Second, func() { c.Close() })
	t.Cleanup(func() {
		timer.Stop()
		c.Close()
	})
	if err := c.WaitGreeting(); err != nil {
		t.Fatal(err)
	}
	return c
}

func masterLogin(t testing.TB, c *imapclient.Client, inc *Incident, mailbox string) {
	t.Helper()
	if err := c.Login(mailbox+MasterSeparator+inc.MasterUser, inc.MasterPassword).Wait(); err != nil {
		t.Fatalf("master login %s: %v", mailbox, err)
	}
}

func capNames(caps imap.CapSet) []string {
	var l []string
	for c := range caps {
		l = append(l, string(c))
	}
	sort.Strings(l)
	return l
}

func TestServerCapabilities(t *testing.T) {
	inc := NewIncident(20, testCutoff, 1)
	s := startServer(t, inc)
	c := dial(t, s.Addr, nil)
	pre := []string{"AUTH=PLAIN", "IMAP4rev1", "LITERAL-", "SASL-IR"}
	if got := capNames(c.Caps()); !reflect.DeepEqual(got, pre) {
		t.Errorf("capabilities before login %v, want %v", got, pre)
	}
	masterLogin(t, c, inc, inc.Mailboxes[2].Entry.Mailbox())
	caps, err := c.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	post := []string{"CHILDREN", "ENABLE", "ESEARCH", "IDLE", "IMAP4rev1", "LIST-EXTENDED", "LIST-STATUS",
		"LITERAL-", "NAMESPACE", "SASL-IR", "SPECIAL-USE", "UNSELECT", "UTF8=ACCEPT"}
	if got := capNames(caps); !reflect.DeepEqual(got, post) {
		t.Errorf("capabilities after login %v, want %v", got, post)
	}
	ns, err := c.Namespace().Wait()
	if err != nil {
		t.Fatal(err)
	}
	if len(ns.Personal) != 1 || ns.Personal[0].Prefix != "" || ns.Personal[0].Delim != '/' {
		t.Errorf("NAMESPACE personal %+v", ns.Personal)
	}
}

// badPlain sends an initial response that is not a PLAIN message.
type badPlain struct{}

func (badPlain) Start() (string, []byte, error) { return sasl.Plain, []byte("no separators"), nil }
func (badPlain) Next([]byte) ([]byte, error)    { return nil, errors.New("unexpected challenge") }

func TestServerLogin(t *testing.T) {
	inc := NewIncident(20, testCutoff, 1)
	s := startServer(t, inc)
	var present, other, absent *Mailbox
	for i := range inc.Mailboxes {
		mb := &inc.Mailboxes[i]
		switch {
		case mb.Absent && absent == nil:
			absent = mb
		case !mb.Absent && present == nil:
			present = mb
		case !mb.Absent && other == nil:
			other = mb
		}
	}
	master, masterPW := inc.MasterUser, inc.MasterPassword
	p, a := present.Entry.Mailbox(), absent.Entry.Mailbox()
	const (
		ok    = ""
		authn = "AUTHENTICATIONFAILED"
		authz = "AUTHORIZATIONFAILED"
		bad   = "BAD"
	)
	tests := []struct {
		name string
		// LOGIN user/pass when sasl is nil.
		user, pass string
		sasl       sasl.Client
		want       string
	}{
		{"master LOGIN", p + "*" + master, masterPW, nil, ok},
		{"master LOGIN, login name in upper case", strings.ToUpper(p) + "*" + master, masterPW, nil, ok},
		{"master LOGIN, absent mailbox", a + "*" + master, masterPW, nil, authz},
		{"master LOGIN, wrong master password", p + "*" + master, masterPW + "x", nil, authn},
		{"master LOGIN, wrong password for an absent mailbox", a + "*" + master, "nope", nil, authn},
		{"master LOGIN, unknown master user", p + "*someone", masterPW, nil, authn},
		{"PLAIN with authzid", "", "", sasl.NewPlainClient(p, master, masterPW), ok},
		{"PLAIN with authzid, absent mailbox", "", "", sasl.NewPlainClient(a, master, masterPW), authz},
		{"PLAIN with authzid, wrong master password", "", "", sasl.NewPlainClient(p, master, "x"), authn},
		{"PLAIN with authzid, a mailbox is no master", "", "", sasl.NewPlainClient(p, other.Entry.Mailbox(), other.Entry.Password()), authn},
		{"PLAIN with separator in authcid", "", "", sasl.NewPlainClient("", p+"*"+master, masterPW), ok},
		{"PLAIN own password", "", "", sasl.NewPlainClient("", p, present.Entry.Password()), ok},
		{"PLAIN authzid equal to authcid", "", "", sasl.NewPlainClient(p, p, present.Entry.Password()), ok},
		{"PLAIN malformed", "", "", badPlain{}, bad},
		{"own password LOGIN", p, present.Entry.Password(), nil, ok},
		{"own password, wrong", p, other.Entry.Password(), nil, authn},
		{"own password, absent mailbox", a, absent.Entry.Password(), nil, authn},
		{"master password without master user", p, masterPW, nil, authn},
		{"master user alone", master, masterPW, nil, authn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, s.Addr, nil)
			var err error
			if tt.sasl != nil {
				err = c.Authenticate(tt.sasl)
			} else {
				err = c.Login(tt.user, tt.pass).Wait()
			}
			if tt.want == ok {
				if err != nil {
					t.Fatalf("login failed: %v", err)
				}
				// The session belongs to the intended mailbox: its INBOX has
				// that mailbox's UIDVALIDITY.
				st, err := c.Status("INBOX", &imap.StatusOptions{UIDValidity: true, NumMessages: true}).Wait()
				if err != nil {
					t.Fatal(err)
				}
				inbox := present.Folders[0]
				if st.UIDValidity != inbox.UIDValidity || *st.NumMessages != uint32(len(inbox.Messages)) {
					t.Errorf("logged in to the wrong mailbox: INBOX %d/%d, want %d/%d",
						st.UIDValidity, *st.NumMessages, inbox.UIDValidity, len(inbox.Messages))
				}
				return
			}
			var ie *imap.Error
			if !errors.As(err, &ie) {
				t.Fatalf("got %v, want an IMAP error %s", err, tt.want)
			}
			switch tt.want {
			case bad:
				if ie.Type != imap.StatusResponseTypeBad {
					t.Errorf("got %s %s %q, want BAD", ie.Type, ie.Code, ie.Text)
				}
			case authn, authz:
				wantText := map[string]string{authn: "Authentication failed.", authz: "Authorization failed"}[tt.want]
				if ie.Type != imap.StatusResponseTypeNo || string(ie.Code) != tt.want || ie.Text != wantText {
					t.Errorf("got %s [%s] %q, want NO [%s] %q", ie.Type, ie.Code, ie.Text, tt.want, wantText)
				}
			}
			// After a refusal the connection stays usable for another try.
			if err := c.Login(p+"*"+master, masterPW).Wait(); err != nil {
				t.Errorf("login after a refusal: %v", err)
			}
		})
	}
	st := s.Stats()
	if st.FailedLogins != 11 {
		t.Errorf("Stats.FailedLogins = %d, want 11", st.FailedLogins)
	}
}

func folderWith(inc *Incident, names ...string) *Mailbox {
	for i := range inc.Mailboxes {
		mb := &inc.Mailboxes[i]
		have := 0
		for _, f := range mb.Folders {
			if slices.Contains(names, f.Name) {
				have++
			}
		}
		if have == len(names) {
			return mb
		}
	}
	return nil
}

func TestServerList(t *testing.T) {
	inc := NewIncident(200, testCutoff, 1)
	s := startServer(t, inc)
	mb := folderWith(inc, FolderAudit, FolderDrafts, FolderSent, FolderTrash)
	if mb == nil {
		t.Fatal("no mailbox with all folders")
	}
	trace := &syncbuf.Buffer{}
	c := dial(t, s.Addr, &imapclient.Options{DebugWriter: trace})
	masterLogin(t, c, inc, mb.Entry.Mailbox())

	list, err := c.List("", "*", &imap.ListOptions{
		ReturnStatus: &imap.StatusOptions{NumMessages: true, UIDValidity: true, UIDNext: true},
	}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*imap.ListData{}
	for _, d := range list {
		got[d.Mailbox] = d
	}
	wantAttrs := map[string][]imap.MailboxAttr{
		FolderInbox:   {imap.MailboxAttrHasNoChildren},
		FolderSent:    {imap.MailboxAttrHasNoChildren, imap.MailboxAttrSent},
		FolderDrafts:  {imap.MailboxAttrHasNoChildren, imap.MailboxAttrDrafts},
		FolderTrash:   {imap.MailboxAttrHasNoChildren, imap.MailboxAttrTrash},
		FolderArchive: {imap.MailboxAttrNoSelect, imap.MailboxAttrHasChildren},
		FolderAudit:   {imap.MailboxAttrHasNoChildren},
	}
	if len(got) != len(mb.Folders) {
		t.Errorf("LIST gave %d folders, want %d", len(got), len(mb.Folders))
	}
	for _, f := range mb.Folders {
		d := got[f.Name]
		if d == nil {
			t.Errorf("LIST lacks %q (decoded)", f.Name)
			continue
		}
		if d.Delim != '/' {
			t.Errorf("%s: delimiter %q", f.Name, d.Delim)
		}
		if want := wantAttrs[f.Name]; !reflect.DeepEqual(d.Attrs, want) {
			t.Errorf("%s: attributes %v, want %v", f.Name, d.Attrs, want)
		}
		if f.NoSelect {
			if d.Status != nil {
				t.Errorf("%s: \\Noselect folder has STATUS %+v", f.Name, d.Status)
			}
			continue
		}
		if d.Status == nil || d.Status.NumMessages == nil {
			t.Errorf("%s: no LIST-STATUS data", f.Name)
			continue
		}
		if *d.Status.NumMessages != uint32(len(f.Messages)) || d.Status.UIDValidity != f.UIDValidity {
			t.Errorf("%s: STATUS %d messages UIDVALIDITY %d, want %d, %d",
				f.Name, *d.Status.NumMessages, d.Status.UIDValidity, len(f.Messages), f.UIDValidity)
		}
	}
	for _, wire := range []string{`"Archiv/Pr&APw-fung"`, `Entw&APw-rfe`} {
		if !strings.Contains(trace.String(), wire) {
			t.Errorf("wire trace lacks the modified UTF-7 name %s", wire)
		}
	}

	tests := []struct {
		pattern string
		options *imap.ListOptions
		want    []string
	}{
		{"%", nil, []string{FolderInbox, FolderArchive, FolderDrafts, FolderTrash, FolderSent}},
		{"Archiv/%", nil, []string{FolderAudit}},
		{"inbox", nil, []string{FolderInbox}},
		{"*", &imap.ListOptions{SelectSpecialUse: true}, []string{FolderDrafts, FolderTrash, FolderSent}},
		{"*", &imap.ListOptions{SelectSubscribed: true}, []string{FolderInbox, FolderAudit, FolderDrafts, FolderTrash, FolderSent}},
		{"%", &imap.ListOptions{SelectSubscribed: true, SelectRecursiveMatch: true}, []string{FolderInbox, FolderArchive, FolderDrafts, FolderTrash, FolderSent}},
	}
	for _, tt := range tests {
		list, err := c.List("", tt.pattern, tt.options).Collect()
		if err != nil {
			t.Fatalf("LIST %q %+v: %v", tt.pattern, tt.options, err)
		}
		var names []string
		for _, d := range list {
			names = append(names, d.Mailbox)
			if d.Mailbox == FolderArchive && tt.options != nil && tt.options.SelectRecursiveMatch &&
				(d.ChildInfo == nil || !d.ChildInfo.Subscribed) {
				t.Errorf("RECURSIVEMATCH: %s without CHILDINFO (\"SUBSCRIBED\")", d.Mailbox)
			}
		}
		if !reflect.DeepEqual(names, tt.want) {
			t.Errorf("LIST %q %+v = %q, want %q", tt.pattern, tt.options, names, tt.want)
		}
	}

	if _, err := c.Select("inbox", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Errorf("EXAMINE inbox (INBOX is case-insensitive): %v", err)
	}
	for _, name := range []string{FolderArchive, "Nowhere"} {
		if _, err := c.Select(name, &imap.SelectOptions{ReadOnly: true}).Wait(); err == nil {
			t.Errorf("EXAMINE %s succeeded", name)
		}
	}
	if _, err := c.Select(FolderAudit, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Errorf("EXAMINE %s: %v", FolderAudit, err)
	}
}

func TestServerStatusItems(t *testing.T) {
	inc := NewIncident(200, testCutoff, 1)
	s := startServer(t, inc)
	mb := folderWith(inc, FolderAudit, FolderDrafts, FolderSent, FolderTrash)
	c := dial(t, s.Addr, nil)
	masterLogin(t, c, inc, mb.Entry.Mailbox())
	for _, f := range mb.Folders {
		if f.NoSelect {
			if _, err := c.Status(f.Name, &imap.StatusOptions{NumMessages: true}).Wait(); err == nil {
				t.Errorf("STATUS %s (\\Noselect) succeeded", f.Name)
			}
			continue
		}
		st, err := c.Status(f.Name, &imap.StatusOptions{
			NumMessages: true, UIDNext: true, UIDValidity: true, NumUnseen: true,
			NumDeleted: true, Size: true, DeletedStorage: true, AppendLimit: true,
		}).Wait()
		if err != nil {
			t.Fatalf("STATUS %s: %v", f.Name, err)
		}
		wantUnseen := 0
		for _, m := range f.Messages {
			if !m.Before(inc.Cutoff) && f.Name != FolderSent && f.Name != FolderDrafts {
				wantUnseen++
			}
		}
		var wantSize int64
		if len(f.Messages) > 0 {
			if _, err := c.Select(f.Name, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
				t.Fatal(err)
			}
			msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{RFC822Size: true, UID: true}).Collect()
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				wantSize += m.RFC822Size
			}
			if st.UIDNext <= msgs[len(msgs)-1].UID {
				t.Errorf("%s: UIDNEXT %d not above the last UID %d", f.Name, st.UIDNext, msgs[len(msgs)-1].UID)
			}
		}
		if *st.NumMessages != uint32(len(f.Messages)) || *st.NumUnseen != uint32(wantUnseen) || *st.NumDeleted != 0 ||
			*st.Size != wantSize || *st.DeletedStorage != 0 || st.UIDValidity != f.UIDValidity {
			t.Errorf("STATUS %s: messages %d unseen %d deleted %d size %d, want %d, %d, 0, %d",
				f.Name, *st.NumMessages, *st.NumUnseen, *st.NumDeleted, *st.Size, len(f.Messages), wantUnseen, wantSize)
		}
	}
	if st := s.Stats(); st.ServerErrors != 0 {
		t.Errorf("%d server errors", st.ServerErrors)
	}
}

func TestErrorCounter(t *testing.T) {
	tests := []struct {
		format string
		counts bool
	}{
		{"panic handling command: %v\n%s", true},
		{"handling %v command: %v", true},
		{"failed to read command: %v", false},
		{"failed to write greeting: %v", false},
	}
	for _, tt := range tests {
		var c counters
		errorCounter{&c}.Printf(tt.format, "x", "y")
		if got := c.serverErrors.Load() == 1; got != tt.counts {
			t.Errorf("%q counted %v, want %v", tt.format, got, tt.counts)
		}
	}
}

func TestServerListUTF8Accept(t *testing.T) {
	inc := NewIncident(200, testCutoff, 1)
	s := startServer(t, inc)
	mb := folderWith(inc, FolderAudit, FolderDrafts)
	trace := &syncbuf.Buffer{}
	c := dial(t, s.Addr, &imapclient.Options{DebugWriter: trace})
	masterLogin(t, c, inc, mb.Entry.Mailbox())
	if _, err := c.Enable(imap.CapUTF8Accept).Wait(); err != nil {
		t.Fatal(err)
	}
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range list {
		names = append(names, d.Mailbox)
	}
	for _, want := range []string{FolderAudit, FolderDrafts} {
		if !slices.Contains(names, want) {
			t.Errorf("LIST after ENABLE UTF8=ACCEPT = %q, lacks %q", names, want)
		}
		if !strings.Contains(trace.String(), `"`+want+`"`) {
			t.Errorf("wire trace lacks %q as a UTF-8 quoted string", want)
		}
	}
}

// scanMailbox counts a mailbox's messages around the cutoff the way a
// careful scanner does: EXAMINE every selectable folder and compare each
// INTERNALDATE with the cutoff instant.
func scanMailbox(c *imapclient.Client, mb *Mailbox, cutoff time.Time) (before, after int, err error) {
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		return 0, 0, fmt.Errorf("list: %w", err)
	}
	for _, d := range list {
		if slices.Contains(d.Attrs, imap.MailboxAttrNoSelect) {
			continue
		}
		sel, err := c.Select(d.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			return 0, 0, fmt.Errorf("examine %s: %w", d.Mailbox, err)
		}
		if sel.NumMessages == 0 {
			continue
		}
		msgs, err := c.Fetch(imap.UIDSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, InternalDate: true}).Collect()
		if err != nil {
			return 0, 0, fmt.Errorf("fetch %s: %w", d.Mailbox, err)
		}
		var want []time.Time
		for _, f := range mb.Folders {
			if f.Name == d.Mailbox {
				want = f.Messages
			}
		}
		if len(msgs) != len(want) {
			return 0, 0, fmt.Errorf("%s: %d messages fetched, want %d", d.Mailbox, len(msgs), len(want))
		}
		for i, m := range msgs {
			if !m.InternalDate.Equal(want[i]) {
				return 0, 0, fmt.Errorf("%s: INTERNALDATE %v, want %v", d.Mailbox, m.InternalDate, want[i])
			}
			if _, off := m.InternalDate.Zone(); off != 2*60*60 {
				return 0, 0, fmt.Errorf("%s: INTERNALDATE %v not in +0200", d.Mailbox, m.InternalDate)
			}
			if m.InternalDate.Before(cutoff) {
				before++
			} else {
				after++
			}
		}
	}
	return before, after, nil
}

func TestServerCountsAroundCutoff(t *testing.T) {
	inc := NewIncident(200, testCutoff, 3)
	s := startServer(t, inc)
	c := dial(t, s.Addr, nil)
	for i := range inc.Mailboxes {
		mb := &inc.Mailboxes[i]
		if mb.Absent {
			continue
		}
		if err := c.Login(mb.Entry.Mailbox()+"*"+inc.MasterUser, inc.MasterPassword).Wait(); err != nil {
			t.Fatal(err)
		}
		before, after, err := scanMailbox(c, mb, inc.Cutoff)
		if err != nil {
			t.Fatalf("%s: %v", mb.Entry.Mailbox(), err)
		}
		if before != mb.ExpectedBefore || after != mb.ExpectedAfter {
			t.Errorf("%s (%s): %d before / %d after, want %d / %d",
				mb.Entry.Mailbox(), mb.Expected, before, after, mb.ExpectedBefore, mb.ExpectedAfter)
		}
		c.Close()
		c = dial(t, s.Addr, nil)
	}
	st := s.Stats()
	if st.Selects != 0 || st.Writes != 0 || st.Examines == 0 || st.ServerErrors != 0 {
		t.Errorf("Stats %+v: want only EXAMINE and no server error", st)
	}
}

// TestServerSearchDates checks date-only SEARCH in the server's zone, and
// that it cannot replace INTERNALDATE for a message seconds before the
// cutoff.
func TestServerSearchDates(t *testing.T) {
	inc := NewIncident(200, testCutoff, 1)
	s := startServer(t, inc)
	zone := serverZone()
	cutoffDay := testCutoff.In(zone)
	day := time.Date(cutoffDay.Year(), cutoffDay.Month(), cutoffDay.Day(), 0, 0, 0, 0, time.UTC)
	checked := 0
	for i := range inc.Mailboxes {
		mb := &inc.Mailboxes[i]
		if mb.Absent || len(mb.Folders[0].Messages) == 0 {
			continue
		}
		inbox := mb.Folders[0].Messages
		var beforeDay, sinceDay, beforeInstant int
		for _, m := range inbox {
			if dayNumber(m.In(zone)) < dayNumber(day) {
				beforeDay++
			} else {
				sinceDay++
			}
			if m.Before(inc.Cutoff) {
				beforeInstant++
			}
		}
		c := dial(t, s.Addr, nil)
		masterLogin(t, c, inc, mb.Entry.Mailbox())
		if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			criteria *imap.SearchCriteria
			want     int
		}{
			{&imap.SearchCriteria{Before: day}, beforeDay},
			{&imap.SearchCriteria{Since: day}, sinceDay},
			{&imap.SearchCriteria{SentBefore: day}, beforeDay},
			{&imap.SearchCriteria{Not: []imap.SearchCriteria{{Before: day}}}, sinceDay},
			{&imap.SearchCriteria{Flag: []imap.Flag{imap.FlagSeen}}, beforeInstant},
			{&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "To", Value: mb.Entry.Mailbox()}}}, len(inbox)},
			{&imap.SearchCriteria{Body: []string{"demo MESSAGE"}}, len(inbox)},
			{&imap.SearchCriteria{Text: []string{"no such text"}}, 0},
		}
		for _, tt := range tests {
			plain, err := c.UIDSearch(tt.criteria, nil).Wait()
			if err != nil {
				t.Fatal(err)
			}
			counted, err := c.UIDSearch(tt.criteria, &imap.SearchOptions{ReturnCount: true}).Wait()
			if err != nil {
				t.Fatal(err)
			}
			if n := len(plain.AllUIDs()); n != tt.want || int(counted.Count) != tt.want {
				t.Errorf("%s: UID SEARCH %+v: %d, ESEARCH COUNT %d, want %d", mb.Entry.Mailbox(), tt.criteria, n, counted.Count, tt.want)
			}
		}
		// The mailbox with messages one second before and at the cutoff:
		// a date-only search puts both on the cutoff's day.
		if slices.ContainsFunc(inbox, inc.Cutoff.Add(-time.Second).Equal) && beforeInstant > 0 && beforeDay == 0 {
			checked++
		}
		c.Close()
	}
	if checked == 0 {
		t.Error("no mailbox where date-only SEARCH BEFORE misses mail from before the cutoff")
	}
}

func TestServerReadOnly(t *testing.T) {
	inc := NewIncident(200, testCutoff, 1)
	s := startServer(t, inc)
	var mb *Mailbox
	for i := range inc.Mailboxes {
		if m := &inc.Mailboxes[i]; !m.Absent && len(m.Folders[0].Messages) >= 2 {
			mb = m
			break
		}
	}
	c := dial(t, s.Addr, nil)
	masterLogin(t, c, inc, mb.Entry.Mailbox())
	sel, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages != uint32(len(mb.Folders[0].Messages)) || sel.UIDValidity != mb.Folders[0].UIDValidity {
		t.Errorf("EXAMINE INBOX: %+v", sel)
	}
	isCannot := func(err error) bool {
		var ie *imap.Error
		return errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo && ie.Code == imap.ResponseCodeCannot
	}
	store := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}
	if err := c.Store(imap.SeqSetNum(1), store, nil).Close(); !isCannot(err) {
		t.Errorf("STORE: %v, want NO [CANNOT]", err)
	}
	if err := c.Create("Neu", nil).Wait(); !isCannot(err) {
		t.Errorf("CREATE: %v, want NO [CANNOT]", err)
	}
	msg := "Subject: x\r\n\r\nx\r\n"
	ac := c.Append("INBOX", int64(len(msg)), nil)
	ac.Write([]byte(msg))
	ac.Close()
	if _, err := ac.Wait(); !isCannot(err) {
		t.Errorf("APPEND: %v, want NO [CANNOT]", err)
	}
	if err := c.UnselectAndExpunge().Wait(); err != nil {
		t.Errorf("CLOSE after EXAMINE: %v", err)
	}

	// Body fetches: PEEK never counts; a plain BODY[] counts only after SELECT.
	fetchBody := func(peek bool) *imapclient.FetchMessageBuffer {
		t.Helper()
		msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{
			Flags: true, RFC822Size: true, Envelope: true, BodyStructure: &imap.FetchItemBodyStructure{},
			BodySection: []*imap.FetchItemBodySection{{Peek: peek}},
		}).Collect()
		if err != nil || len(msgs) != 1 {
			t.Fatalf("FETCH: %v (%d messages)", err, len(msgs))
		}
		return msgs[0]
	}
	for _, tt := range []struct {
		readOnly, peek bool
		writes         int64
	}{{true, false, 0}, {false, true, 0}, {false, false, 1}} {
		if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: tt.readOnly}).Wait(); err != nil {
			t.Fatal(err)
		}
		before := s.Stats().Writes
		m := fetchBody(tt.peek)
		if got := s.Stats().Writes - before; got != tt.writes {
			t.Errorf("readOnly=%v peek=%v: %d writes counted, want %d", tt.readOnly, tt.peek, got, tt.writes)
		}
		body := m.FindBodySection(&imap.FetchItemBodySection{})
		if int64(len(body)) != m.RFC822Size || !bytes.Contains(body, []byte("To: "+mb.Entry.Mailbox()+"\r\n")) {
			t.Errorf("body of %d bytes (RFC822.SIZE %d): %q", len(body), m.RFC822Size, body)
		}
		if m.Envelope == nil || m.Envelope.Subject != "Demo message 1" || !m.Envelope.Date.Equal(mb.Folders[0].Messages[0]) {
			t.Errorf("envelope %+v", m.Envelope)
		}
		wantSeen := mb.Folders[0].Messages[0].Before(inc.Cutoff)
		if slices.Contains(m.Flags, imap.FlagSeen) != wantSeen {
			t.Errorf("flags %v, want \\Seen=%v", m.Flags, wantSeen)
		}
	}
	st := s.Stats()
	if st.Writes != 4 || st.Selects != 2 || st.Examines != 2 || st.ServerErrors != 0 {
		t.Errorf("Stats %+v, want 4 writes (STORE, CREATE, APPEND, BODY[]), 2 SELECT, 2 EXAMINE", st)
	}
}

func TestServerConcurrentConnections(t *testing.T) {
	const conns = 64
	inc := NewIncident(200, testCutoff, 1)
	s := startServer(t, inc)
	var present []*Mailbox
	for i := range inc.Mailboxes {
		if !inc.Mailboxes[i].Absent {
			present = append(present, &inc.Mailboxes[i])
		}
	}
	var loggedIn, done sync.WaitGroup
	loggedIn.Add(conns)
	errs := make(chan error, conns)
	for i := range conns {
		mb := present[i%len(present)]
		done.Add(1)
		go func() {
			defer done.Done()
			c, err := imapclient.DialInsecure(s.Addr, nil)
			if err != nil {
				loggedIn.Done()
				errs <- err
				return
			}
			defer c.Close()
			timer := time.AfterFunc(30*time.Second, func() { c.Close() })
			defer timer.Stop()
			err = c.Login(mb.Entry.Mailbox()+"*"+inc.MasterUser, inc.MasterPassword).Wait()
			loggedIn.Done()
			if err != nil {
				errs <- err
				return
			}
			loggedIn.Wait() // every connection is open before any scans
			before, after, err := scanMailbox(c, mb, inc.Cutoff)
			if err == nil && (before != mb.ExpectedBefore || after != mb.ExpectedAfter) {
				err = fmt.Errorf("%s: %d/%d, want %d/%d", mb.Entry.Mailbox(), before, after, mb.ExpectedBefore, mb.ExpectedAfter)
			}
			if err == nil {
				err = c.Logout().Wait()
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	done.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := s.Stats()
	if st.MaxConcurrent != conns || st.Logins != conns || st.Connections != conns || st.ServerErrors != 0 {
		t.Errorf("Stats %+v: want %d connections, all open at once", st, conns)
	}
}

func TestServerStopsWithContext(t *testing.T) {
	inc := NewIncident(20, testCutoff, 1)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, inc)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, s.Addr, nil)
	cancel()
	select {
	case <-c.Closed():
	case <-time.After(5 * time.Second):
		t.Fatal("open connection survived the end of the context")
	}
	if conn, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		conn.Close()
		t.Error("server still accepts connections after the context ended")
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after the context ended: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestStartErrors(t *testing.T) {
	dup := NewIncident(20, testCutoff, 1)
	for i := range dup.Mailboxes {
		if !dup.Mailboxes[i].Absent {
			twin := dup.Mailboxes[i]
			f := twin.Entry.Fields()
			f.Mailbox = strings.ToUpper(f.Mailbox)
			twin.Entry = inventory.NewEntry(f)
			dup.Mailboxes = append(dup.Mailboxes, twin)
			break
		}
	}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		inc  *Incident
		want string
	}{
		{"nil incident", context.Background(), nil, "no incident"},
		{"duplicate login", context.Background(), dup, "appears twice"},
		{"ended context", ended, NewIncident(20, testCutoff, 1), "context canceled"},
	}
	for _, tt := range tests {
		s, err := Start(tt.ctx, tt.inc)
		if err == nil {
			s.Close()
			t.Errorf("%s: Start succeeded", tt.name)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %q does not mention %q", tt.name, err, tt.want)
		}
	}
}

// TestServerLargeIncident measures a 100,000-mailbox incident padded to at
// least six messages per present mailbox: generation, start-up and heap,
// then scans a few mailboxes.
func TestServerLargeIncident(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 mailboxes")
	}
	const n = 100_000
	runtime.GC()
	var m0, m1, m2 runtime.MemStats
	runtime.ReadMemStats(&m0)
	t0 := time.Now()
	inc := NewIncident(n, testCutoff, 1)
	genTime := time.Since(t0)
	for i := range inc.Mailboxes {
		mb := &inc.Mailboxes[i]
		for k := 0; !mb.Absent && mb.ExpectedBefore+mb.ExpectedAfter < 6; k++ {
			inbox := &mb.Folders[0]
			inbox.Messages = append(inbox.Messages, inc.Cutoff.Add(time.Duration(40+k)*time.Hour).In(serverZone()))
			mb.ExpectedAfter++
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	t1 := time.Now()
	s := startServer(t, inc)
	startTime := time.Since(t1)
	runtime.GC()
	runtime.ReadMemStats(&m2)
	messages := 0
	for i := range inc.Mailboxes {
		messages += inc.Mailboxes[i].ExpectedBefore + inc.Mailboxes[i].ExpectedAfter
	}
	incMiB := float64(m1.HeapAlloc-m0.HeapAlloc) / (1 << 20)
	srvMiB := float64(m2.HeapAlloc-m1.HeapAlloc) / (1 << 20)
	t.Logf("%d mailboxes, %d messages: generated in %v (%.0f MiB heap), server started in %v (%.0f MiB more heap)",
		n, messages, genTime.Round(time.Millisecond), incMiB, startTime.Round(time.Millisecond), srvMiB)
	if incMiB+srvMiB > 400 {
		t.Errorf("incident and server hold %.0f MiB, want under 400", incMiB+srvMiB)
	}
	for _, i := range []int{0, n / 2, n - 1} {
		mb := &inc.Mailboxes[i]
		c := dial(t, s.Addr, nil)
		err := c.Login(mb.Entry.Mailbox()+"*"+inc.MasterUser, inc.MasterPassword).Wait()
		if mb.Expected == results.ImpactLoginFailed {
			if err == nil {
				t.Errorf("%s: absent mailbox logged in", mb.Entry.Mailbox())
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		before, after, err := scanMailbox(c, mb, inc.Cutoff)
		if err != nil || before != mb.ExpectedBefore || after != mb.ExpectedAfter {
			t.Errorf("%s: %d/%d (%v), want %d/%d", mb.Entry.Mailbox(), before, after, err, mb.ExpectedBefore, mb.ExpectedAfter)
		}
	}
}

// BenchmarkProbe measures one probe as the scanner makes it (connect, master
// LOGIN, LIST, EXAMINE and UID FETCH INTERNALDATE per folder, LOGOUT) over
// parallel connections.
func BenchmarkProbe(b *testing.B) {
	inc := NewIncident(2000, testCutoff, 1)
	s := startServer(b, inc)
	var present []*Mailbox
	for i := range inc.Mailboxes {
		if !inc.Mailboxes[i].Absent {
			present = append(present, &inc.Mailboxes[i])
		}
	}
	b.SetParallelism(4)
	var next sync.Mutex
	k := 0
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			next.Lock()
			mb := present[k%len(present)]
			k++
			next.Unlock()
			c, err := imapclient.DialInsecure(s.Addr, nil)
			if err != nil {
				b.Error(err)
				return
			}
			if err := c.Login(mb.Entry.Mailbox()+"*"+inc.MasterUser, inc.MasterPassword).Wait(); err != nil {
				b.Error(err)
			} else if _, _, err := scanMailbox(c, mb, inc.Cutoff); err != nil {
				b.Error(err)
			} else if err := c.Logout().Wait(); err != nil {
				b.Error(err)
			}
			c.Close()
		}
	})
}
