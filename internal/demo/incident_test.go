package demo

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/impact-ops/impact/internal/results"
)

var testCutoff = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

func TestSharesAndCounts(t *testing.T) {
	tests := []struct {
		n                          int
		failed, missing, noOld, ok int
		wantMailboxes              int
	}{
		{n: 5, failed: 2, missing: 5, noOld: 2, ok: 11, wantMailboxes: 20},
		{n: 20, failed: 2, missing: 5, noOld: 2, ok: 11, wantMailboxes: 20},
		{n: 200, failed: 20, missing: 50, noOld: 10, ok: 120, wantMailboxes: 200},
		{n: 1001, failed: 100, missing: 250, noOld: 50, ok: 601, wantMailboxes: 1001},
	}
	for _, tt := range tests {
		want := map[results.Impact]int{
			results.ImpactLoginFailed:    tt.failed,
			results.ImpactMissingOldMail: tt.missing,
			results.ImpactNoOldMail:      tt.noOld,
			results.ImpactOK:             tt.ok,
		}
		if got := Shares(tt.n); !reflect.DeepEqual(got, want) {
			t.Errorf("Shares(%d) = %v, want %v", tt.n, got, want)
		}
		inc := NewIncident(tt.n, testCutoff, 7)
		if len(inc.Mailboxes) != tt.wantMailboxes {
			t.Errorf("NewIncident(%d): %d mailboxes, want %d", tt.n, len(inc.Mailboxes), tt.wantMailboxes)
		}
		if got := inc.Counts(); !reflect.DeepEqual(got, want) {
			t.Errorf("NewIncident(%d).Counts() = %v, want %v", tt.n, got, want)
		}
	}
}

// TestMailboxesFollowImpactRules checks every mailbox of several incidents
// against the rules the expected impact stands for.
func TestMailboxesFollowImpactRules(t *testing.T) {
	for _, tt := range []struct {
		n    int
		seed int64
	}{{20, 1}, {20, 2}, {20, 3}, {200, 1}, {2000, 42}} {
		inc := NewIncident(tt.n, testCutoff, tt.seed)
		seen := map[string]bool{}
		for i := range inc.Mailboxes {
			mb := &inc.Mailboxes[i]
			e := &mb.Entry
			if seen[e.Mailbox()] {
				t.Errorf("n=%d seed=%d: mailbox %s twice", tt.n, tt.seed, e.Mailbox())
			}
			seen[e.Mailbox()] = true
			if e.AccountID() == "" || e.Password() == "" || e.Created().IsZero() || e.ContactName() == "" || e.ContactPhone() == "" {
				t.Errorf("%s: incomplete entry %+v", e.Mailbox(), *e)
			}
			if !slices.Contains([]string{"imap", "webmail", "pop3"}, e.Access()) {
				t.Errorf("%s: access %q", e.Mailbox(), e.Access())
			}
			before, after := 0, 0
			for _, f := range mb.Folders {
				if f.NoSelect && (len(f.Messages) > 0 || f.UIDValidity != 0) {
					t.Errorf("%s: \\Noselect folder %s has messages or UIDVALIDITY", e.Mailbox(), f.Name)
				}
				if !f.NoSelect && f.UIDValidity == 0 {
					t.Errorf("%s: folder %s has no UIDVALIDITY", e.Mailbox(), f.Name)
				}
				for j, m := range f.Messages {
					if m.Nanosecond() != 0 {
						t.Errorf("%s: INTERNALDATE %v has a fraction of a second", e.Mailbox(), m)
					}
					if j > 0 && m.Before(f.Messages[j-1]) {
						t.Errorf("%s/%s: messages not in date order", e.Mailbox(), f.Name)
					}
					if m.Before(inc.Cutoff) {
						before++
					} else {
						after++
					}
				}
			}
			if before != mb.ExpectedBefore || after != mb.ExpectedAfter {
				t.Errorf("%s: counted %d/%d, Expected %d/%d", e.Mailbox(), before, after, mb.ExpectedBefore, mb.ExpectedAfter)
			}
			createdBefore := e.Created().Before(utcDate(inc.Cutoff))
			createdAfter := e.Created().After(inc.Cutoff)
			if !createdBefore && !createdAfter {
				t.Errorf("%s: created %v on the cutoff's day", e.Mailbox(), e.Created())
			}
			hasInbox := len(mb.Folders) > 0 && mb.Folders[0].Name == FolderInbox
			switch mb.Expected {
			case results.ImpactLoginFailed:
				if !mb.Absent || len(mb.Folders) != 0 {
					t.Errorf("%s: login_failed but present or with folders", e.Mailbox())
				}
			case results.ImpactMissingOldMail:
				if mb.Absent || !hasInbox || before != 0 || !createdBefore || e.Access() == "pop3" {
					t.Errorf("%s: missing_old_mail breaks its rule: absent=%v before=%d created=%v access=%s",
						e.Mailbox(), mb.Absent, before, e.Created(), e.Access())
				}
			case results.ImpactNoOldMail:
				if mb.Absent || !hasInbox || before != 0 || !(createdAfter || e.Access() == "pop3") {
					t.Errorf("%s: no_old_mail breaks its rule: absent=%v before=%d created=%v access=%s",
						e.Mailbox(), mb.Absent, before, e.Created(), e.Access())
				}
			case results.ImpactOK:
				if mb.Absent || !hasInbox || before == 0 || after == 0 || !createdBefore {
					t.Errorf("%s: ok breaks its rule: absent=%v before=%d after=%d", e.Mailbox(), mb.Absent, before, after)
				}
			default:
				t.Errorf("%s: unexpected impact %q", e.Mailbox(), mb.Expected)
			}
		}
	}
}

func TestMultiMailboxAccountsMixImpacts(t *testing.T) {
	for _, n := range []int{20, 200} {
		inc := NewIncident(n, testCutoff, 1)
		ids, members := inc.Accounts()
		if ids[0] != "00420" {
			t.Errorf("n=%d: first account %q, want 00420", n, ids[0])
		}
		mixed, multi := 0, 0
		for _, id := range ids {
			idx := members[id]
			if len(idx) < 2 {
				continue
			}
			multi++
			impacts := map[results.Impact]bool{}
			domains := map[string]bool{}
			for _, i := range idx {
				mb := &inc.Mailboxes[i]
				impacts[mb.Expected] = true
				_, d, _ := strings.Cut(mb.Entry.Mailbox(), "@")
				domains[d] = true
				if mb.Entry.CustomerType() != "Business" {
					t.Errorf("account %s: multi-mailbox member %s has type %q", id, mb.Entry.Mailbox(), mb.Entry.CustomerType())
				}
				if len(idx) > 8 {
					t.Errorf("account %s has %d mailboxes", id, len(idx))
				}
			}
			if len(domains) != 1 || domains["isp.example"] || domains["mail.isp.example"] {
				t.Errorf("account %s: domains %v, want one customer domain", id, domains)
			}
			if len(impacts) > 1 {
				mixed++
			}
			if id == "00420" {
				for _, want := range []results.Impact{results.ImpactLoginFailed, results.ImpactMissingOldMail, results.ImpactOK} {
					if !impacts[want] {
						t.Errorf("account 00420 lacks %s: %v", want, impacts)
					}
				}
				if got := inc.Mailboxes[idx[0]].Entry.Mailbox(); got != "juergen.mueller@mueller-bau.example" {
					t.Errorf("account 00420 first mailbox %s", got)
				}
			}
		}
		if multi < 3 || mixed < 3 {
			t.Errorf("n=%d: %d multi-mailbox accounts, %d mixed; want at least 3 of each", n, multi, mixed)
		}
	}
}

func TestIncidentEdgeCases(t *testing.T) {
	inc := NewIncident(200, testCutoff, 1)
	has := func(pred func(mb *Mailbox) bool) bool {
		for i := range inc.Mailboxes {
			if pred(&inc.Mailboxes[i]) {
				return true
			}
		}
		return false
	}
	hasMessage := func(mb *Mailbox, folder string, at time.Time) bool {
		for _, f := range mb.Folders {
			if f.Name == folder && slices.ContainsFunc(f.Messages, at.Equal) {
				return true
			}
		}
		return false
	}
	folderIs := func(name string, noSelect bool) func(mb *Mailbox) bool {
		return func(mb *Mailbox) bool {
			return slices.ContainsFunc(mb.Folders, func(f Folder) bool { return f.Name == name && f.NoSelect == noSelect })
		}
	}
	c := inc.Cutoff
	cases := []struct {
		name string
		pred func(mb *Mailbox) bool
	}{
		{"account ID with leading zeros", func(mb *Mailbox) bool { return mb.Entry.AccountID() == "00420" }},
		{"non-ASCII contact", func(mb *Mailbox) bool { return mb.Entry.ContactName() == "Jürgen Müller" }},
		{"hostile contact", func(mb *Mailbox) bool { return mb.Entry.ContactName() == HostileContact }},
		{"phone in international form", func(mb *Mailbox) bool { return strings.HasPrefix(mb.Entry.ContactPhone(), "+49 ") }},
		{"customer domain", func(mb *Mailbox) bool { return strings.HasSuffix(mb.Entry.Mailbox(), "@mueller-bau.example") }},
		{"isp.example", func(mb *Mailbox) bool { return strings.HasSuffix(mb.Entry.Mailbox(), "@isp.example") }},
		{"mail.isp.example", func(mb *Mailbox) bool { return strings.HasSuffix(mb.Entry.Mailbox(), "@mail.isp.example") }},
		{"type from product Business Mail Pro", func(mb *Mailbox) bool {
			return mb.Entry.CustomerType() == "" && mb.Entry.Product() == "Business Mail Pro"
		}},
		{"type from product Home Basic", func(mb *Mailbox) bool {
			return mb.Entry.CustomerType() == "" && mb.Entry.Product() == "Home Basic"
		}},
		{"type from customer domain only", func(mb *Mailbox) bool {
			return mb.Entry.CustomerType() == "" && mb.Entry.Product() == "" && !strings.Contains(mb.Entry.Mailbox(), "isp.example")
		}},
		{"type from ISP domain only", func(mb *Mailbox) bool {
			return mb.Entry.CustomerType() == "" && mb.Entry.Product() == "" && strings.HasSuffix(mb.Entry.Mailbox(), "@isp.example")
		}},
		{"created after the cutoff", func(mb *Mailbox) bool { return mb.Entry.Created().After(c) }},
		{"pop3", func(mb *Mailbox) bool { return mb.Entry.Access() == "pop3" && mb.Expected == results.ImpactNoOldMail }},
		{"webmail missing old mail", func(mb *Mailbox) bool {
			return mb.Entry.Access() == "webmail" && mb.Expected == results.ImpactMissingOldMail
		}},
		{"ok, one second before and at the cutoff", func(mb *Mailbox) bool {
			return mb.Expected == results.ImpactOK && hasMessage(mb, FolderInbox, c.Add(-time.Second)) && hasMessage(mb, FolderInbox, c)
		}},
		{"ok, one second after the cutoff", func(mb *Mailbox) bool {
			return mb.Expected == results.ImpactOK && hasMessage(mb, FolderInbox, c.Add(time.Second))
		}},
		{"missing, only a message exactly at the cutoff", func(mb *Mailbox) bool {
			return mb.Expected == results.ImpactMissingOldMail && mb.ExpectedAfter == 1 && hasMessage(mb, FolderInbox, c)
		}},
		{"missing, no message at all", func(mb *Mailbox) bool {
			return mb.Expected == results.ImpactMissingOldMail && mb.ExpectedAfter == 0
		}},
		{"ok, old mail only in Archiv/Prüfung", func(mb *Mailbox) bool {
			for _, f := range mb.Folders {
				if f.Name == FolderInbox && slices.ContainsFunc(f.Messages, func(m time.Time) bool { return m.Before(c) }) {
					return false
				}
			}
			return mb.Expected == results.ImpactOK && folderIs(FolderAudit, false)(mb)
		}},
		{"ok, only old message on the cutoff's day", func(mb *Mailbox) bool {
			if mb.Expected != results.ImpactOK || mb.ExpectedBefore != 1 {
				return false
			}
			for _, f := range mb.Folders {
				for _, m := range f.Messages {
					if m.Before(c) && dayNumber(m) == dayNumber(c.In(serverZone())) && m.Before(c.Add(-time.Hour)) {
						return true
					}
				}
			}
			return false
		}},
		{"Sent", folderIs(FolderSent, false)},
		{"Entwürfe", folderIs(FolderDrafts, false)},
		{"empty Papierkorb", folderIs(FolderTrash, false)},
		{"\\Noselect Archiv", folderIs(FolderArchive, true)},
	}
	for _, tc := range cases {
		if !has(tc.pred) {
			t.Errorf("no mailbox with %s", tc.name)
		}
	}
}

func TestNewIncidentDeterministic(t *testing.T) {
	a := NewIncident(300, testCutoff, 99)
	b := NewIncident(300, testCutoff, 99)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different incidents")
	}
	c := NewIncident(300, testCutoff, 100)
	if reflect.DeepEqual(a.Mailboxes, c.Mailboxes) {
		t.Fatal("different seeds gave the same mailboxes")
	}
	if a.MasterPassword == c.MasterPassword || a.Mailboxes[0].Entry.Password() == c.Mailboxes[0].Entry.Password() {
		t.Error("passwords do not depend on the seed")
	}
}

func TestNewIncidentTruncatesCutoff(t *testing.T) {
	inc := NewIncident(20, testCutoff.Add(750*time.Millisecond), 1)
	if !inc.Cutoff.Equal(testCutoff) {
		t.Errorf("Cutoff = %v, want %v", inc.Cutoff, testCutoff)
	}
}

func TestLookup(t *testing.T) {
	inc := NewIncident(20, testCutoff, 1)
	name := inc.Mailboxes[5].Entry.Mailbox()
	if got := inc.Lookup(name); got != &inc.Mailboxes[5] {
		t.Errorf("Lookup(%s) = %p, want %p", name, got, &inc.Mailboxes[5])
	}
	if got := inc.Lookup("nobody@isp.example"); got != nil {
		t.Errorf("Lookup(nobody) = %+v", got)
	}
}
