package export

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/impact-ops/impact/internal/classify"
	"github.com/impact-ops/impact/internal/results"
)

// TestRanksMatchClassify: the Builder groups and ranks exactly as
// classify.Accounts does, on random incidents.
func TestRanksMatchClassify(t *testing.T) {
	types := []string{results.TypeBusiness, results.TypeResidential, results.TypeUnknown, "odd"}
	impacts := append([]results.Impact{"", "weird"}, results.Impacts...)
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 7))
		var recs []*results.Mailbox
		for i := range 1 + rng.IntN(300) {
			recs = append(recs, &results.Mailbox{
				Mailbox:      fmt.Sprintf("m%04d@x.example", rng.IntN(100000)*10+i%10),
				AccountID:    fmt.Sprintf("A%02d", rng.IntN(60)),
				CustomerType: types[rng.IntN(len(types))],
				Impact:       impacts[rng.IntN(len(impacts))],
			})
		}
		// Unique mailbox names: classify sees each once.
		seen := map[string]bool{}
		uniq := recs[:0]
		for _, m := range recs {
			if !seen[m.Mailbox] {
				seen[m.Mailbox] = true
				uniq = append(uniq, m)
			}
		}
		recs = uniq
		rec := mustBuild(recs)
		want := classify.Accounts(recs)
		if len(rec.accounts) != len(want) {
			t.Fatalf("seed %d: %d accounts, classify has %d", seed, len(rec.accounts), len(want))
		}
		for i, w := range want {
			a := &rec.accounts[i]
			got := fmt.Sprintf("%s %s %v %v %s lf=%d mo=%d pe=%d rank=%d n=%d", rec.id(a), a.customerType, a.tier, a.multi,
				rec.impact(a), a.loginFailed, a.missingOld, a.probeErrors, a.rank, a.n)
			exp := fmt.Sprintf("%s %s %v %v %s lf=%d mo=%d pe=%d rank=%d n=%d", w.ID, w.CustomerType, w.Tier, w.MultiMailbox,
				w.Impact, w.LoginFailed, w.MissingOld, w.ProbeErrors, w.Rank, len(w.Mailboxes))
			if got != exp {
				t.Fatalf("seed %d account %d:\n got %s\nwant %s", seed, i, got, exp)
			}
			for k, m := range rec.mailboxesOf(a) {
				if name := rec.s.mailbox(rec.mail[m]); name != w.Mailboxes[k].Mailbox {
					t.Fatalf("seed %d account %s mailbox %d: %s, want %s", seed, w.ID, k, name, w.Mailboxes[k].Mailbox)
				}
			}
		}
	}
}

// TestBuilder: a later record of a mailbox replaces an earlier one; the
// compact row keeps every figure the sheets show.
func TestBuilder(t *testing.T) {
	oldest := time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC) // a bogus INTERNALDATE
	newest := time.Date(2026, 11, 30, 8, 0, 0, 123456789, time.FixedZone("X", 3600))
	b := NewBuilder()
	first := &results.Mailbox{Mailbox: "a@x.example", AccountID: "A1", Impact: results.ImpactProbeError, Error: "timeout"}
	later := &results.Mailbox{
		Mailbox: "a@x.example", AccountID: "A1", CustomerType: results.TypeBusiness, Impact: results.ImpactOK,
		Evidence: "3 messages before the cutoff", Product: "Biz", Created: "2019-03-01", ContactName: "Ann", ContactPhone: "+1",
		Login:        results.Login{Outcome: "ok", Code: "", Text: "Logged in"},
		BeforeCutoff: i64(3), AfterCutoff: i64(-2), Oldest: &oldest, Newest: &newest,
		Folders:  []results.Folder{{Name: "INBOX", Countable: true, BeforeCutoff: i64(3), AfterCutoff: i64(0)}, {Name: "X", Error: "NO oops"}},
		Attempts: []string{"reset", "timeout"}, ProbedAt: newest, DurationMS: -5,
	}
	other := &results.Mailbox{Mailbox: "b@x.example", AccountID: "A2", Impact: results.ImpactLoginFailed}
	for _, m := range []*results.Mailbox{first, other, later} {
		if err := b.Add(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Add(&results.Mailbox{AccountID: "A3"}); err == nil {
		t.Error("a record without a mailbox was accepted")
	}
	rec := b.Records()
	if err := b.Add(other); err == nil {
		t.Error("Add after Records was accepted")
	}
	if b.Records() != rec {
		t.Error("a second Records call made other Records")
	}
	if rec.Mailboxes() != 2 || rec.Accounts() != 2 || rec.Impacted() != 1 ||
		rec.Count(results.ImpactOK) != 1 || rec.Count(results.ImpactProbeError) != 0 || rec.Count(results.ImpactLoginFailed) != 1 {
		t.Errorf("mailboxes %d accounts %d impacted %d", rec.Mailboxes(), rec.Accounts(), rec.Impacted())
	}
	if !rec.Has("a@x.example") || !rec.Has("b@x.example") || rec.Has("c@x.example") || rec.Has("") {
		t.Error("Has is wrong")
	}
	var m mrow
	rec.s.decode(rec.mail[0], &m)
	want := mrow{
		Mailbox: "a@x.example", AccountID: "A1", CustomerType: "business", Impact: "ok", Evidence: "3 messages before the cutoff",
		Outcome: "ok", ServerText: "Logged in", Uncountable: "X: NO oops", Product: "Biz", Created: "2019-03-01",
		Contact: "Ann", Phone: "+1", Attempts: "reset | timeout", NAttempts: 2,
		Before: 3, After: -2, HasBefore: true, HasAfter: true,
		Oldest: oldest, Newest: newest.UTC(), ProbedAt: newest.UTC(), Folders: 2, DurationMS: -5,
	}
	if m != want {
		t.Errorf("decoded\n%+v\nwant\n%+v", m, want)
	}
	rec.s.decode(rec.mail[1], &m)
	if m.Folders != -1 || m.HasBefore || !m.Oldest.IsZero() || !m.ProbedAt.IsZero() || m.Impact != results.ImpactLoginFailed {
		t.Errorf("b: %+v", m)
	}
}

// TestStoreChunks: records spread over many chunks, and a record larger
// than a chunk, decode intact.
func TestStoreChunks(t *testing.T) {
	b := NewBuilder()
	big := make([]byte, chunkSize+10)
	for i := range big {
		big[i] = 'a' + byte(i%26)
	}
	n := 40_000
	for i := range n {
		m := &results.Mailbox{Mailbox: fmt.Sprintf("u%06d@x.example", i), AccountID: fmt.Sprintf("A%06d", i),
			ContactName: fmt.Sprintf("Contact %d with a longer name to fill chunks %0100d", i, i), Impact: results.ImpactOK}
		if i == n/2 {
			m.ContactName = string(big)
		}
		if err := b.Add(m); err != nil {
			t.Fatal(err)
		}
	}
	rec := b.Records()
	if len(rec.s.chunks) < 2 {
		t.Fatalf("%d chunks", len(rec.s.chunks))
	}
	var m mrow
	for i := range n {
		rec.s.decode(rec.mail[i], &m)
		want := fmt.Sprintf("Contact %d with a longer name to fill chunks %0100d", i, i)
		if i == n/2 {
			want = string(big)
		}
		if m.Mailbox != fmt.Sprintf("u%06d@x.example", i) || m.Contact != want {
			t.Fatalf("record %d: %s %.40q", i, m.Mailbox, m.Contact)
		}
	}
}
